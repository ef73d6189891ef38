"""The bytes of one export file as UTF-8, read in bounded chunks.

Arrow's CSV reader consumes this stream, so a file of any size costs a few chunks of memory:
gzip is inflated as it goes, a UTF-8 BOM is dropped, other encodings are transcoded chunk by
chunk, and a byte that is not valid in the file's encoding stops the read with its offset, line
and the mapping fix. It also counts line breaks, so the reader can tell an unclosed quote (which
swallows the last line break) from a well-formed file.

What a file is comes from its first bytes, never from its name (`sniff_format`): a gzip file is
inflated whatever it is called, a zip that holds a workbook is read as .xlsx, and an old .xls or
any other zip is refused with what it is. The same goes for the text encoding: a file that
looks like UTF-16 (with or without a byte order mark) or like UTF-8 while the mapping declares
something else is refused with what it looks like and the mapping fix, rather than read as
mojibake.
"""

from __future__ import annotations

import codecs
import gzip
import zipfile
import zlib
from enum import StrEnum
from typing import BinaryIO, Protocol

import numpy as np

from pipelines.core.erp.errors import ExportFileError

CHUNK_BYTES = 1 << 20
_LF, _CR = ord("\n"), ord("\r")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_GZIP_ERRORS = (OSError, EOFError, zlib.error)
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and other Office files)
# UTF-16 without a BOM is recognised in the first bytes: ASCII text (a header) in UTF-16 has a
# zero byte in every other place. Share of the pairs that must have one, on one side only.
_UTF16_SNIFF_BYTES = 1024
_UTF16_ZERO_SHARE = 0.5


class FileFormat(StrEnum):
    """What a file's first bytes say it is."""

    TEXT = "text"
    GZIP = "gzip"
    XLSX = "xlsx"


class ReadableFile(Protocol):
    """What the reader opens: a `pathlib.Path`, or an `ExportFile` of a remote export store.
    `str()` of it names the file in errors and rejects."""

    @property
    def name(self) -> str: ...

    def open(self, mode: str = "rb") -> BinaryIO: ...


def sniff_format(path: ReadableFile) -> FileFormat:
    """The format of an export file from its first bytes (its name may say otherwise). Raises
    ExportFileError for files that are no export at all (a legacy .xls, a zip of something)."""
    with _open_binary(path) as stream:
        return _sniff(path, stream)


def _open_binary(path: ReadableFile) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ExportFileError(f"{path}: cannot be opened ({exc})") from None


def _sniff(path: ReadableFile, stream: BinaryIO) -> FileFormat:
    """`sniff_format` on an open stream, which is left at its start."""
    head = stream.read(len(_OLE_MAGIC))
    stream.seek(0)
    if head.startswith(_GZIP_MAGIC):
        return FileFormat.GZIP
    if head.startswith(_OLE_MAGIC):
        raise ExportFileError(
            f"{path}: this is a legacy Excel .xls workbook (or another old Office file), not "
            f"CSV or .xlsx; save it as .xlsx or CSV from Excel, or export it again as CSV"
        )
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(stream) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ExportFileError(
                f"{path}: starts like a zip file (as .xlsx workbooks do) but cannot be opened "
                f"({exc}); the file may be truncated: export it again"
            ) from None
        finally:
            stream.seek(0)
        if "xl/workbook.xml" in names:
            return FileFormat.XLSX
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ExportFileError(
            f"{path}: this is a zip archive ({shown}), not a CSV file or an .xlsx workbook; "
            f"unzip it and drop the CSV or .xlsx file it holds"
        )
    return FileFormat.TEXT


def _utf16_without_bom(head: bytes) -> str | None:
    """ "utf-16-le" / "utf-16-be" when the first bytes look like UTF-16 text without a BOM."""
    sample = head[: _UTF16_SNIFF_BYTES - _UTF16_SNIFF_BYTES % 2]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    odd_zeros, even_zeros = sample[1::2].count(0), sample[0::2].count(0)
    if odd_zeros >= _UTF16_ZERO_SHARE * pairs and even_zeros == 0:
        return "utf-16-le"
    if even_zeros >= _UTF16_ZERO_SHARE * pairs and odd_zeros == 0:
        return "utf-16-be"
    return None


def count_line_breaks(data: bytes, after_cr: bool = False) -> int:
    """Line breaks as Arrow and universal newlines see them: \\n, \\r\\n and a lone \\r.
    `after_cr`: the data before this ended with \\r (so a leading \\n completes that break).
    Counted by numpy, which lets the GIL go: `bytes.count` holds it, 0.1 s per 300 MB (and as
    much again per count of a CRLF file) taken from the threads that validate and sum."""
    codes = np.frombuffer(data, dtype=np.uint8)
    breaks = int(np.count_nonzero(codes == _LF))
    if b"\r" in data:
        cr = codes == _CR
        breaks += int(np.count_nonzero(cr)) - int(np.count_nonzero(cr[:-1] & (codes[1:] == _LF)))
    if after_cr and data.startswith(b"\n"):
        breaks -= 1
    return breaks


def _ascii_transparent(codec: codecs.CodecInfo) -> bool:
    """Single-byte codecs where ASCII bytes mean ASCII characters: an ASCII-only chunk of them
    is already valid UTF-8 and is passed on without decoding."""
    name = codec.name
    return name in {"ascii", "latin-1", "iso8859-1"} or name.startswith(
        ("cp125", "iso8859-", "cp437", "cp85", "mac-", "koi8-")
    )


def _looks_utf8(raw: bytes) -> bool | None:
    """Whether bytes with non-ASCII content are UTF-8: valid, with a whole multi-byte character
    (None: undecided, the only one is cut at the end). Text in a single-byte encoding almost
    never is: an accented letter there is one byte followed by ASCII, which UTF-8 forbids."""
    try:
        text = codecs.getincrementaldecoder("utf-8")("strict").decode(raw, False)
    except UnicodeDecodeError:
        return False
    return None if text.isascii() else True


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
        # A single-byte mapping is checked once, on the first chunk with non-ASCII bytes, for
        # content that is UTF-8 (it would be read as mojibake).
        self._check_utf8 = not self._utf8 and _ascii_transparent(codec)
        self._utf8_tail = b""  # a character cut by the chunk boundary, checked with the next
        self._file = _open_binary(path)
        try:
            self._raw: BinaryIO = self._inflated(path, self._file)
        except BaseException:
            self._file.close()
            raise
        self._offset = 0  # bytes of the (inflated) file consumed, BOM included
        self._first = True
        self._done = False
        self._last_byte = b""
        self._held: bytes | None = None

    @staticmethod
    def _inflated(path: ReadableFile, file: BinaryIO) -> BinaryIO:
        if _sniff(path, file) is FileFormat.GZIP:  # by content: a gzip named .csv is read too
            return gzip.GzipFile(fileobj=file, mode="rb")  # type: ignore[return-value]
        return file

    # --- file-like API used by pyarrow ----------------------------------------------------------

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all with -1). Arrow takes what one read returns as one parse
        block, and a record must fit in about two blocks: a short read would cap the record
        length at two chunks whatever block size the reader asks for."""
        parts, total = [], 0
        if self._held is not None:
            parts, total, self._held = [self._held], len(self._held), None
        while (size < 0 or total < size) and not self._done:
            chunk = self._next_chunk()
            parts.append(chunk)
            total += len(chunk)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if 0 <= size < len(data):
            data, self._held = data[:size], data[size:]
        return data

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

    def peek_lines(self, lines: int = 1) -> bytes:
        """The output up to its `lines`-th line break at least (all of it if there are fewer),
        still returned by the next `read`: enough to read the header before Arrow starts."""
        held = self._held or b""
        while count_line_breaks(held) < lines and not self._done:
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
                self._use("utf-8")
            return raw[len(codecs.BOM_UTF8) :], start + len(codecs.BOM_UTF8)
        name = self._codec.name
        bom = next((b for b in _UTF16_BOMS if raw.startswith(b)), None)
        if bom is not None:
            order = "utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-16-be"
            if name == "utf-16":  # the codec reads the BOM itself
                return raw, start
            if name == order:  # the le/be codecs would keep the BOM as a character
                return raw[len(bom) :], start + len(bom)
            raise ExportFileError(
                f"{self.path}: the file starts with a UTF-16 byte order mark but the mapping "
                f'says encoding {self.encoding!r}; set `encoding = "utf-16"` for this file kind '
                f"in the mapping file"
            )
        order = _utf16_without_bom(raw)
        if order is None:
            return raw, start
        if name == "utf-16":  # without a BOM the codec cannot tell the byte order: we can
            self._use(order)
        elif name != order:
            raise ExportFileError(
                f"{self.path}: the file looks like {order.upper()} text without a byte order "
                f"mark (every other byte is zero) but the mapping says encoding "
                f'{self.encoding!r}; set `encoding = "{order}"` for this file kind in the '
                f"mapping file"
            )
        return raw, start

    def _use(self, encoding: str) -> None:
        self._codec = codecs.lookup(encoding)
        self._utf8 = self._codec.name == "utf-8"
        self._check_utf8 = False
        self._decoder = self._codec.incrementaldecoder("strict")

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
        if self._check_utf8 and raw and not raw.isascii():
            verdict = _looks_utf8(self._utf8_tail + raw)
            self._check_utf8, self._utf8_tail = verdict is None, raw[-3:]
            if verdict:
                self._raise_looks_utf8(raw)
        try:
            text = self._decoder.decode(raw, final)
        except UnicodeDecodeError as exc:
            self._raise_decode_error(pending + raw, start - len(pending), exc)
        except UnicodeError as exc:  # e.g. a codec's own complaint: name the file and the fix
            raise ExportFileError(
                f"{self.path}: cannot be decoded as {self.encoding} near offset {start} "
                f"({exc}); check `encoding` for this file kind in the mapping file"
            ) from None
        # UTF-8 is only validated: Arrow gets the original bytes.
        return raw if self._utf8 else text.encode("utf-8")

    def _raise_looks_utf8(self, raw: bytes) -> None:
        at = next(i for i, byte in enumerate(raw) if byte >= 0x80)
        line_start = max(raw.rfind(b"\n", 0, at), raw.rfind(b"\r", 0, at)) + 1
        line_end = min(
            (i for i in (raw.find(b"\n", at), raw.find(b"\r", at)) if i >= 0), default=len(raw)
        )
        text = raw[line_start:line_end][:120]
        line = self.breaks + count_line_breaks(raw[:at], after_cr=self._last_byte == b"\r") + 1
        raise ExportFileError(
            f"{self.path}: this file looks UTF-8 (line {line}: "
            f"{text.decode('utf-8', errors='ignore')!r}), but the mapping says encoding "
            f"{self.encoding!r}, which would read it as "
            f"{text.decode(self._codec.name, errors='replace')!r}; set "
            f'`encoding = "utf-8"` for this file kind in the mapping file (or export the file '
            f"in {self.encoding})"
        )

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
