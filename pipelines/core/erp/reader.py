"""Reading one export file as blocks of text rows, each with the physical line it starts on.

Everything is read as text so that the validator, not the reader, decides what a bad number or
date is: a reader that guesses types would turn a bad row into a file-level failure or a NaN.
CSV is streamed through Arrow in bounded blocks (memory does not grow with the file); each
column comes dictionary-encoded, so checks run once per distinct value. Line numbers stay exact
with quoted line breaks: a record spans one line plus the breaks inside its values, and rows
Arrow cannot split into the header's fields come back, with their place, as row rejects.
File-level faults raise ExportFileError naming the file, where in it, and the fix.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines.core.erp.contract import FileContract
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.source import ReadableFile, Utf8Source
from pipelines.core.read_ahead import read_ahead
from pipelines.core.rejects import WHOLE_ROW, concat_rejects, empty_rejects, reject_frame

__all__ = [
    "LINE",
    "SUFFIXES",
    "ExportFileError",
    "ExportText",
    "TextBlock",
    "TextColumn",
    "iter_text_blocks",
    "read_export",
    "read_export_file",
]

LINE = "_line"  # name of the source-line column carried next to the data columns
SUFFIXES = (".csv", ".csv.gz", ".xlsx")
# Arrow parses in blocks of this size and reads ~32 blocks ahead: that, not the file, bounds
# the reader's memory. A record may be up to about two blocks long.
PARSE_BLOCK_BYTES = 1 << 20
# Parsed batches (one per parse block) a worker thread keeps ready while a block is validated.
READ_AHEAD_BATCHES = 8
# Text handed to validation at once: large enough that per-block Python work is negligible.
BLOCK_BYTES = 32 << 20
_LINE_BREAK = r"\r\n|\r|\n"
_OTHER_DELIMITERS = (";", ",", "\t", "|")
_SHOWN_CHARS = 200


@dataclass(frozen=True)
class TextColumn:
    """One column of a block, dictionary-encoded: row i holds `values[codes[i]]`."""

    codes: np.ndarray  # int32, one per row
    values: pa.Array  # distinct texts

    @classmethod
    def constant(cls, rows: int, text: str = "") -> TextColumn:
        return cls(np.zeros(rows, dtype=np.int32), pa.array([text], type=pa.string()))

    def texts(self) -> np.ndarray:
        """Per-row text (object array); for small frames and rejects, not the hot path."""
        return self.values.to_numpy(zero_copy_only=False)[self.codes]


@dataclass
class TextBlock:
    """Consecutive data rows of one file as text, blank rows left out.

    `columns` has every contract column (an optional one the file lacks is all ""); `lines`
    is the physical line each row starts on; `malformed` holds the rejects of the rows in this
    stretch of the file that could not be split into the header's fields.
    """

    columns: dict[str, TextColumn]
    lines: np.ndarray
    malformed: pd.DataFrame = field(default_factory=empty_rejects)

    def __len__(self) -> int:
        return len(self.lines)

    def text_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {name: pd.array(col.texts(), dtype="str") for name, col in self.columns.items()}
        )
        frame[LINE] = self.lines
        return frame

    @classmethod
    def from_text_frame(cls, frame: pd.DataFrame, contract: FileContract) -> TextBlock:
        """A block from an all-text frame with `_line` (what `read_export_file` returns)."""
        columns = {}
        for name in contract.names:
            if name in frame.columns:
                text = pa.array(frame[name].astype(str).to_numpy(dtype=object), type=pa.string())
                columns[name] = _encode(text)
            else:
                columns[name] = TextColumn.constant(len(frame))
        return cls(columns, frame[LINE].to_numpy(dtype=np.int64))


@dataclass
class ExportText:
    """A whole file as text: the rows, and the rejects of the rows that were malformed."""

    frame: pd.DataFrame
    malformed: pd.DataFrame


def _suffix(path: ReadableFile) -> str:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), "")


def _check_header(
    path: ReadableFile,
    header: list[str],
    contract: FileContract,
    dialect: FileDialect,
    first_line: str,
) -> None:
    """Fail on a header that cannot carry the contract's required columns."""
    renamed = [dialect.rename.get(h, h) for h in header]
    missing = [c for c in contract.required_names if c not in renamed]
    if not missing:
        return
    if len(header) == 1:
        for other in _OTHER_DELIMITERS:
            if other != dialect.delimiter and other in first_line:
                raise ExportFileError(
                    f"{path}: line 1 has one column with delimiter {dialect.delimiter!r}, but "
                    f'contains {other!r}; set `delimiter = "{other}"` for '
                    f"{contract.kind.value} in the mapping file"
                )
    raise ExportFileError(
        f"{path}: missing required column(s) {missing} for {contract.kind.value}; found "
        f"{header}; add a rename for them under [{contract.kind.value}.rename] in the mapping file"
    )


def _layout(
    path: ReadableFile, header: list[str], contract: FileContract, dialect: FileDialect
) -> dict[str, int]:
    """Contract column -> its position in the file (after renaming). Extra columns are kept out
    of the clean frame but never fail the file; a contract column given twice does."""
    renamed = [dialect.rename.get(h, h) for h in header]
    duplicated = sorted({n for n in renamed if renamed.count(n) > 1 and n in contract.names})
    if duplicated:
        raise ExportFileError(
            f"{path}: column(s) {duplicated} appear twice after renaming; fix the mapping file"
        )
    return {name: renamed.index(name) for name in contract.names if name in renamed}


def _encode(column: pa.Array | pa.ChunkedArray) -> TextColumn:
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        chunks = encoded.chunks
        if not chunks:
            return TextColumn(np.zeros(0, dtype=np.int32), pa.array([], type=pa.string()))
        # Chunks of one encode share one dictionary (the last one holds every value).
        values = chunks[-1].dictionary
        codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    else:
        values, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    return TextColumn(codes.astype(np.int32, copy=False), values)


def _line_breaks(values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Line breaks inside each value, or None when there are none (the usual case)."""
    has = pc.match_substring_regex(values, "[\r\n]")
    if not pc.any(has).as_py():
        return None
    counts = pc.count_substring_regex(values, _LINE_BREAK)
    return np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)


def _blank(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    trimmed = pc.utf8_trim_whitespace(values)
    return np.asarray(pc.equal(trimmed, "").to_numpy(zero_copy_only=False), dtype=bool)


class _RecordLines:
    """Places records on physical lines as blocks arrive.

    Arrow numbers every record it reads (header = 1) but hands over only well-formed rows;
    malformed ones reach the invalid-row handler with their number and text. Each record spans
    one line plus the line breaks inside its values, so a running sum gives exact lines.
    """

    def __init__(self, path: ReadableFile, first_line: int, delimiter: str, expected: int) -> None:
        self.path = path
        self.next_line = first_line
        self.next_record = 2
        self.delimiter = delimiter
        self.expected = expected
        self.invalid: list[tuple[int, int, str]] = []  # (number, fields found, text)
        self._invalid_lock = threading.Lock()  # Arrow may call the handler from its own thread
        self.last_start = 0  # line the last placed record started on
        self.last_text: str | None = None  # its text when it was malformed

    def handler(self, row: pa_csv.InvalidRow) -> str:
        if row.number is None:  # only a parallel reader lacks numbers; ours is serial
            return "error"
        with self._invalid_lock:
            self.invalid.append((row.number, row.actual_columns, row.text))
        return "skip"

    def place(self, spans: np.ndarray, final: bool = False) -> tuple[np.ndarray, pd.DataFrame]:
        """Lines of the block's rows (in order, with `spans`), and the rejects of the malformed
        records among them. With `final`, malformed records after the last row are placed too."""
        rows = len(spans)
        if not self.invalid and not final and (spans == 1).all():  # the usual block: no fuss
            start = self.next_line
            self.next_line += rows
            self.next_record += rows
            if rows:
                self.last_start, self.last_text = self.next_line - 1, None
            return np.arange(start, start + rows, dtype=np.int64), empty_rejects()
        with self._invalid_lock:
            pending = sorted(self.invalid)
            numbers = np.array([n for n, _, _ in pending], dtype=np.int64)
            # Well-formed rows before each pending malformed record.
            before = numbers - self.next_record - np.arange(len(numbers))
            taken = len(numbers) if final else int(np.searchsorted(before, rows, side="left"))
            self.invalid = pending[taken:] + self.invalid[len(pending) :]
        before, invalid = before[:taken], pending[:taken]
        row_at = np.arange(rows) + np.searchsorted(before, np.arange(rows), side="right")
        invalid_at = before + np.arange(taken)
        all_spans = np.empty(rows + taken, dtype=np.int64)
        all_spans[row_at] = spans
        all_spans[invalid_at] = [1 + _count_breaks(text) for _, _, text in invalid]
        starts = np.empty(rows + taken, dtype=np.int64)
        starts[:1] = 0
        np.cumsum(all_spans[:-1], out=starts[1:])
        starts += self.next_line
        if rows + taken:
            self.last_start = int(starts[-1])
            last_is_row = rows > 0 and row_at[-1] == rows + taken - 1
            self.last_text = None if last_is_row else invalid[-1][2]
        self.next_line += int(all_spans.sum())
        self.next_record += rows + taken
        return starts[row_at], self._malformed(invalid, starts[invalid_at])

    def unclosed_at_end(self, file_breaks: int) -> bool:
        """Whether the last record ran to the end of the file inside a quoted value: as a row,
        its value took the file's last line break; as a malformed record, its quotes are odd."""
        if self.next_line - 1 > file_breaks:
            return True
        return self.last_text is not None and self.last_text.count('"') % 2 == 1

    def _malformed(self, invalid: list[tuple[int, int, str]], lines: np.ndarray) -> pd.DataFrame:
        kept = [(line, found, text) for line, (_, found, text) in zip(lines, invalid, strict=True)]
        kept = [(line, found, text) for line, found, text in kept if text.strip()]
        if not kept:
            return empty_rejects()
        return reject_frame(
            str(self.path),
            np.array([line for line, _, _ in kept], dtype=np.int64),
            WHOLE_ROW,
            np.array([_shown(text) for _, _, text in kept], dtype=object),
            np.array([self._reason(found, text) for _, found, text in kept], dtype=object),
        )

    def _reason(self, found: int, text: str) -> str:
        reason = f"expected {self.expected} fields separated by {self.delimiter!r}, found {found}"
        if found == 1:
            for other in _OTHER_DELIMITERS:
                if other != self.delimiter and text.count(other) == self.expected - 1:
                    return f"{reason}; the line seems to use {other!r} as delimiter"
        return reason


def _count_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _size(n_bytes: int) -> str:
    return f"{n_bytes >> 20} MiB" if n_bytes >= 1 << 20 else f"{n_bytes >> 10} KiB"


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


class _CsvBlocks:
    """One CSV file as TextBlocks (see module docstring)."""

    def __init__(
        self, path: ReadableFile, contract: FileContract, dialect: FileDialect, block_bytes: int
    ) -> None:
        self.path = path
        self.contract = contract
        self.dialect = dialect
        self.block_bytes = block_bytes

    def __iter__(self) -> Iterator[TextBlock]:
        with Utf8Source(self.path, self.dialect.encoding) as source:
            raw_header, first_line = self._header(source)
            header = [h.strip() for h in raw_header]
            _check_header(self.path, header, self.contract, self.dialect, first_line)
            self.layout = _layout(self.path, header, self.contract, self.dialect)
            self.width = len(raw_header)
            lines = _RecordLines(self.path, 2, self.dialect.delimiter, self.width)
            reader = self._open(source, raw_header, lines)
            pending: list[pa.RecordBatch] = []
            size = 0
            try:
                for batch in read_ahead(iter(reader), READ_AHEAD_BATCHES):
                    pending.append(batch)
                    size += batch.nbytes
                    if size >= self.block_bytes:
                        yield self._block(pending, lines)
                        pending, size = [], 0
            except pa.ArrowInvalid as exc:
                if pending:
                    yield self._block(pending, lines)
                _, malformed = lines.place(np.zeros(0, dtype=np.int64), final=True)
                if len(malformed):
                    yield self._empty_block(malformed)
                raise self._parse_error(exc, lines.next_line) from None
            yield self._block(pending, lines, final=True)
            if lines.unclosed_at_end(source.breaks):
                raise ExportFileError(
                    f"{self.path}: line {lines.last_start}: a quoted value opened on this line is "
                    f"never closed, so the rest of the file would be one value; close the quote, "
                    f'or write a quote inside a quoted value as two quotes ("")'
                )

    def _header(self, source: Utf8Source) -> tuple[list[str], str]:
        head = source.peek_line()
        if not head.strip():
            while not source.exhausted and not head.strip():
                head = source.read()
            if not head.strip():
                raise ExportFileError(
                    f"{self.path}: the file is empty; the ERP must write at least a header line "
                    f"({', '.join(self.contract.required_names)})"
                )
            head = b""  # blank first line, content later: the header is blank
        first_line = re.split(r"\r\n|\r|\n", head.decode("utf-8", errors="replace"), maxsplit=1)[0]
        raw_header = next(csv.reader([first_line], delimiter=self.dialect.delimiter), [""])
        return raw_header, first_line

    def _open(
        self, source: Utf8Source, raw_header: list[str], lines: _RecordLines
    ) -> pa_csv.CSVStreamingReader:
        read = pa_csv.ReadOptions(block_size=PARSE_BLOCK_BYTES, use_threads=False)
        parse = pa_csv.ParseOptions(
            delimiter=self.dialect.delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=lines.handler,
        )
        convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in raw_header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # the source already checked or transcoded every byte
        )
        try:
            reader = pa_csv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc, 1) from None
        if reader.schema.names != raw_header or not all(
            t == pa.string() for t in reader.schema.types
        ):
            raise ExportFileError(
                f"{self.path}: the header line cannot be read as {len(raw_header)} column names "
                f"separated by {self.dialect.delimiter!r}; check for quotes in the header"
            )
        return reader

    def _parse_error(self, exc: pa.ArrowInvalid, line: int) -> ExportFileError:
        if "straddling" in str(exc):
            return ExportFileError(
                f"{self.path}: line {line}: a record runs on for more than "
                f"{_size(2 * PARSE_BLOCK_BYTES)} without ending; most likely a quoted value "
                f"opened on this line is never closed; close the quote, or write a quote inside "
                f'a quoted value as two quotes ("")'
            )
        return ExportFileError(
            f"{self.path}: cannot be parsed as CSV with delimiter {self.dialect.delimiter!r} "
            f"near line {line} ({exc}); check for an unclosed quote on or before that line"
        )

    def _empty_block(self, malformed: pd.DataFrame) -> TextBlock:
        columns = {name: TextColumn.constant(0) for name in self.contract.names}
        return TextBlock(columns, np.zeros(0, dtype=np.int64), malformed)

    def _block(
        self, batches: Sequence[pa.RecordBatch], lines: _RecordLines, final: bool = False
    ) -> TextBlock:
        table = pa.Table.from_batches(batches, schema=batches[0].schema) if batches else None
        rows = table.num_rows if table is not None else 0
        spans = np.ones(rows, dtype=np.int64)
        blank: np.ndarray | None = np.ones(rows, dtype=bool) if rows else None
        encoded: dict[int, TextColumn] = {}
        for i in range(self.width if table is not None else 0):
            column = table.column(i)
            if i in self.layout.values():
                text = encoded[i] = _encode(column)
                breaks = _line_breaks(text.values)
                if breaks is not None:
                    spans += breaks[text.codes]
                if blank is not None:
                    blank &= _blank(text.values)[text.codes]
            else:
                breaks = _line_breaks(column)
                if breaks is not None:
                    spans += breaks
                if blank is not None:
                    blank &= _blank(column)
            if blank is not None and not blank.any():
                blank = None  # no blank row: stop looking
        row_lines, malformed = lines.place(spans, final=final)
        keep = None if blank is None else ~blank
        columns = {}
        for name in self.contract.names:
            position = self.layout.get(name)
            if position is None or table is None:
                columns[name] = TextColumn.constant(rows)
            else:
                columns[name] = encoded[position]
            if keep is not None:
                columns[name] = TextColumn(columns[name].codes[keep], columns[name].values)
        if keep is not None:
            row_lines = row_lines[keep]
        return TextBlock(columns, row_lines, malformed)


def _xlsx_frame(path: ReadableFile, contract: FileContract, dialect: FileDialect) -> pd.DataFrame:
    with path.open("rb") as stream:  # a workbook is read whole anyway (see _xlsx_blocks)
        workbook = io.BytesIO(stream.read())
    try:
        sheets = pd.read_excel(
            workbook, sheet_name=None, dtype=str, keep_default_na=False, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many kinds; all mean "unreadable"
        raise ExportFileError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    if dialect.sheet:
        if dialect.sheet not in sheets:
            raise ExportFileError(
                f"{path}: no sheet named {dialect.sheet!r} (sheets: {list(sheets)}); fix `sheet` "
                f"for {contract.kind.value} in the mapping file"
            )
        return sheets[dialect.sheet]
    if len(sheets) == 1:
        return next(iter(sheets.values()))
    if contract.kind.value in sheets:
        return sheets[contract.kind.value]
    raise ExportFileError(
        f"{path}: the workbook has {len(sheets)} sheets {list(sheets)} and none is named "
        f'{contract.kind.value!r}; set `sheet = "..."` under [{contract.kind.value}] in the '
        f"mapping file"
    )


def _xlsx_blocks(
    path: ReadableFile, contract: FileContract, dialect: FileDialect
) -> Iterator[TextBlock]:
    """A workbook holds at most ~1M rows (Excel's limit), so it is read whole, as one block."""
    frame = _xlsx_frame(path, contract, dialect)
    header = [str(c).strip() for c in frame.columns]
    if frame.empty and not header:
        raise ExportFileError(f"{path}: the sheet is empty")
    _check_header(path, header, contract, dialect, "")
    layout = _layout(path, header, contract, dialect)
    rows = len(frame)
    lines = np.arange(2, rows + 2, dtype=np.int64)
    columns = {}
    blank = np.ones(rows, dtype=bool)
    for i in range(len(header)):
        text = pa.array(frame.iloc[:, i].astype(str).to_numpy(dtype=object), type=pa.string())
        blank &= _blank(text)
    for name in contract.names:
        if name in layout:
            text = frame.iloc[:, layout[name]].astype(str).to_numpy(dtype=object)
            columns[name] = _encode(pa.array(text[~blank], type=pa.string()))
        else:
            columns[name] = TextColumn.constant(int((~blank).sum()))
    yield TextBlock(columns, lines[~blank])


def iter_text_blocks(
    path: ReadableFile, contract: FileContract, dialect: FileDialect, block_bytes: int | None = None
) -> Iterator[TextBlock]:
    """One file as consecutive TextBlocks of about `block_bytes` of text each. Raises
    ExportFileError for faults of the whole file (possibly after yielding earlier blocks)."""
    suffix = _suffix(path)
    if suffix == ".xlsx":
        return _xlsx_blocks(path, contract, dialect)
    if suffix not in (".csv", ".csv.gz"):
        raise ExportFileError(f"{path}: unsupported file type; use .csv, .csv.gz or .xlsx")
    # Blocks are parsed and encoded on a worker thread while the caller checks the one before.
    return read_ahead(iter(_CsvBlocks(path, contract, dialect, block_bytes or BLOCK_BYTES)), 1)


def read_export(path: ReadableFile, contract: FileContract, dialect: FileDialect) -> ExportText:
    """A whole file as one all-text frame (see `read_export_file`) plus the rejects of its
    malformed rows. Holds the file in memory: extraction streams `iter_text_blocks` instead."""
    frames, malformed = [], []
    for block in iter_text_blocks(path, contract, dialect):
        frames.append(block.text_frame())
        malformed.append(block.malformed)
    if frames:
        frame = pd.concat(frames, ignore_index=True)
    else:
        empty = {n: TextColumn.constant(0) for n in contract.names}
        frame = TextBlock(empty, np.zeros(0, dtype=np.int64)).text_frame()
    return ExportText(frame, concat_rejects(malformed))


def read_export_file(
    path: ReadableFile, contract: FileContract, dialect: FileDialect
) -> pd.DataFrame:
    """One file -> all-text frame with the contract's columns (missing optional ones empty)
    plus `_line`. Blank rows are skipped; rows with the wrong number of fields are left out
    (`read_export` returns them as rejects). Raises ExportFileError for faults of the whole
    file."""
    return read_export(path, contract, dialect).frame
