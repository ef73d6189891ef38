"""The bytes of one export file as UTF-8, read in bounded chunks.

Arrow's CSV reader consumes this stream, so a file of any size costs a few chunks of memory:
gzip is inflated as it goes, a UTF-8 BOM is dropped, other encodings are transcoded chunk by
chunk, and a byte that is not valid in the file's encoding stops the read with its offset, line
and the mapping fix. It also counts line breaks, so the reader can tell an unclosed quote (which
swallows the last line break) from a well-formed file.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from typing import BinaryIO, Protocol

from pipelines.core.erp.errors import ExportFileError

CHUNK_BYTES = 1 << 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


class ReadableFile(Protocol):
    """What the reader opens: a `pathlib.Path`, or an `ExportFile` of a remote export store.
    `str()` of it names the file in errors and rejects."""

    @property
    def name(self) -> str: ...

    def open(self, mode: str = "rb") -> BinaryIO: ...


def count_line_breaks(data: bytes, after_cr: bool = False) -> int:
    """Line breaks as Arrow and universal newlines see them: \\n, \\r\\n and a lone \\r.
    `after_cr`: the data before this ended with \\r (so a leading \\n completes that break)."""
    breaks = data.count(b"\n")
    if b"\r" in data:
        breaks += data.count(b"\r") - data.count(b"\r\n")
    if after_cr and data.startswith(b"\n"):
        breaks -= 1
    return breaks


def _ascii_transparent(codec: codecs.CodecInfo) -> bool:
    """Single-byte codecs where ASCII bytes mean ASCII characters: an ASCII-only chunk of them
    is already valid UTF-8 and is passed on without decoding."""
    name = codec.name
    return name in {"ascii", "latin-1", "iso8859-1"} or name.startswith(
        ("cp125", "iso8859-", "cp437", "cp85", "mac-")
    )


class Utf8Source:
    """A read-only binary stream of the file's content as UTF-8 (the file-like Arrow needs).

    `breaks` counts the line breaks handed out so far; at the end a final line break is added
    when the file lacks one, so every record, the last included, ends with a break.
    """

    def __init__(self, path: ReadableFile, encoding: str, chunk_bytes: int | None = None) -> None:
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            raise ExportFileError(
                f"{path}: unknown encoding {encoding!r} in the mapping file"
            ) from None
        self.path = path
        self.encoding = encoding
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self.breaks = 0
        self.closed = False
        self._utf8 = codec.name in {"utf-8", "utf-8-sig"}
        self._codec = codec
        self._decoder = codec.incrementaldecoder("strict")
        self._file = path.open("rb")
        self._raw: BinaryIO = self._inflated(path, self._file)
        self._offset = 0  # bytes of the (inflated) file consumed, BOM included
        self._first = True
        self._done = False
        self._last_byte = b""
        self._held: bytes | None = None

    @staticmethod
    def _inflated(path: ReadableFile, file: BinaryIO) -> BinaryIO:
        if path.name.lower().endswith(".gz"):
            return gzip.GzipFile(fileobj=file, mode="rb")  # type: ignore[return-value]
        return file

    # --- file-like API used by pyarrow ----------------------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._held is not None:
            chunk, self._held = self._held, None
            return chunk
        while not self._done:
            chunk = self._next_chunk()
            if chunk:
                return chunk
        return b""

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
            self._file.close()  # a GzipFile leaves the file it reads open
            self.closed = True

    def __enter__(self) -> Utf8Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the reader needs ------------------------------------------------------------------

    def peek_line(self) -> bytes:
        """The output up to its first line break at least (all of it if there is none), still
        returned by the next `read`: enough to read the header before Arrow starts."""
        held = self._held or b""
        while b"\n" not in held and b"\r" not in held and not self._done:
            held += self._next_chunk()
        self._held = held or None
        return held

    @property
    def exhausted(self) -> bool:
        return self._done and self._held is None

    # --- internals ------------------------------------------------------------------------------

    def _read_raw(self) -> bytes:
        try:
            return self._raw.read(self.chunk_bytes)
        except _GZIP_ERRORS as exc:
            raise ExportFileError(f"{self.path}: not a readable gzip file ({exc})") from None

    def _next_chunk(self) -> bytes:
        raw = self._read_raw()
        start = self._offset
        self._offset += len(raw)
        if self._first:
            self._first = False
            raw, start = self._strip_bom(raw, start)
        if not raw:
            self._done = True
            self._decode(b"", start, final=True)
            # A last record without its line break gets one, so every record ends alike.
            if self._last_byte not in (b"", b"\n", b"\r"):
                return self._emit(b"\n")
            return b""
        return self._emit(self._decode(raw, start, final=False))

    def _strip_bom(self, raw: bytes, start: int) -> tuple[bytes, int]:
        if raw.startswith(codecs.BOM_UTF8):
            # A UTF-8 BOM says what the file is, whatever the mapping says.
            if not self._utf8:
                self._utf8 = True
                self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
            return raw[len(codecs.BOM_UTF8) :], start + len(codecs.BOM_UTF8)
        if raw.startswith(_UTF16_BOMS) and not self._codec.name.startswith("utf-16"):
            raise ExportFileError(
                f"{self.path}: the file starts with a UTF-16 byte order mark but the mapping "
                f'says encoding {self.encoding!r}; set `encoding = "utf-16"` for this file kind '
                f"in the mapping file"
            )
        return raw, start

    def _emit(self, chunk: bytes) -> bytes:
        if chunk:
            self.breaks += count_line_breaks(chunk, after_cr=self._last_byte == b"\r")
            self._last_byte = chunk[-1:]
        return chunk

    def _decode(self, raw: bytes, start: int, final: bool) -> bytes:
        pending = self._decoder.getstate()[0]
        transparent = self._utf8 or _ascii_transparent(self._codec)
        if transparent and not pending and not final and raw.isascii():
            return raw
        try:
            text = self._decoder.decode(raw, final)
        except UnicodeDecodeError as exc:
            self._raise_decode_error(pending + raw, start - len(pending), exc)
        # UTF-8 is only validated: Arrow gets the original bytes.
        return raw if self._utf8 else text.encode("utf-8")

    def _raise_decode_error(self, data: bytes, start: int, exc: UnicodeDecodeError) -> None:
        prefix = data[: exc.start].decode(self._codec.name, errors="replace")
        line = self.breaks + count_line_breaks(
            prefix.encode("utf-8"), after_cr=self._last_byte == b"\r"
        )
        byte = data[exc.start : exc.start + 1].hex()
        encoding = "utf-8" if self._utf8 else self.encoding
        raise ExportFileError(
            f"{self.path}: byte 0x{byte} at offset {start + exc.start} (line {line + 1}) is not "
            f"valid {encoding}; set `encoding` for this file kind in the mapping file (e.g. "
            f'"cp1252" or "latin-1" for Windows exports)'
        ) from None
