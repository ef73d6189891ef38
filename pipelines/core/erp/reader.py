"""Reading one export file as blocks of rows, each with the physical line it starts on.

CSV cells are read as text so that the validator, not the reader, decides what a bad number or
date is: a reader that guesses types would turn a bad row into a file-level failure or a NaN.
CSV is streamed through Arrow in bounded blocks (memory does not grow with the file); each
column comes dictionary-encoded, so checks run once per distinct value. Line numbers stay exact
with quoted line breaks: a record spans one line plus the breaks inside its values, and rows
Arrow cannot split into the header's fields come back, with their place, as row rejects. A
record longer than Arrow's parse block is read again with larger blocks, so a long value that
is closed is read, and one that is never closed is named as such. What a file is comes from its
first bytes (`source.sniff_format`): a workbook is read with its cells' types (`workbook`).
File-level faults raise ExportFileError naming the file, where in it, and the fix.
"""

from __future__ import annotations

import csv
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines.core.erp.contract import FileContract
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.header import (
    HEADER_SEARCH_LINES,
    OTHER_DELIMITERS,
    check_header,
    column_layout,
    excel_sep_hint,
    refuse_markup,
    repeated_header_error,
)
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.source import FileFormat, ReadableFile, Utf8Source, sniff_format
from pipelines.core.erp.text_block import LINE, TextBlock, TextColumn, blank_values, encode_text
from pipelines.core.erp.workbook import read_sheet
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

SUFFIXES = (".csv", ".csv.gz", ".xlsx")
# Arrow parses in blocks of this size and reads ~32 blocks ahead: that, not the file, bounds
# the reader's memory. A record may be up to about two blocks long; a longer one makes the file
# be read again with blocks 4x larger, up to this many times the first size.
PARSE_BLOCK_BYTES = 1 << 20
MAX_BLOCK_GROWTH = 64
# Parsed batches (one per parse block) a worker thread keeps ready while a block is encoded and
# validated: more than a block's worth, or the parser stalls while a block is encoded (measured
# at 10M rows: 8 -> 24 took the reader alone from 2.2-2.4 s to 1.7-2.0 s).
READ_AHEAD_BATCHES = 24
# Parsed batches handed to validation at once, counted in Arrow bytes (a column read encoded,
# `Column.repeats`, counts its indices, so such a block holds more rows than its text bytes
# say): large enough that per-block Python work is negligible.
BLOCK_BYTES = 32 << 20
_LINE_BREAK = r"\r\n|\r|\n"
# How a contract column whose values repeat (`Column.repeats`) is converted.
_ENCODED = pa.dictionary(pa.int32(), pa.string())
_SHOWN_CHARS = 200


@dataclass
class ExportText:
    """A whole file as text: the rows, and the rejects of the rows that were malformed."""

    frame: pd.DataFrame
    malformed: pd.DataFrame


def _line_breaks(values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Line breaks inside each value, or None when there are none (the usual case)."""
    has = pc.match_substring_regex(values, "[\r\n]")
    if not pc.any(has).as_py():
        return None
    counts = pc.count_substring_regex(values, _LINE_BREAK)
    return np.asarray(counts.to_numpy(zero_copy_only=False), dtype=np.int64)


class _RecordLines:
    """Places records on physical lines as blocks arrive.

    Arrow numbers every record it reads (header = 1) but hands over only well-formed rows;
    malformed ones reach the invalid-row handler with their number and text. Each record spans
    one line plus the line breaks inside its values, so a running sum gives exact lines.
    """

    def __init__(self, path: ReadableFile, first_line: int, delimiter: str, expected: int) -> None:
        self.path = path
        self.next_line = first_line
        self.next_record = first_line  # the lines above (header, `sep=`) are one record each
        self.delimiter = delimiter
        self.expected = expected
        self.invalid: list[tuple[int, int, str]] = []  # (number, fields found, text)
        self._invalid_lock = threading.Lock()  # Arrow may call the handler from its own thread
        self.last_start = 0  # line the last placed record started on
        self.last_text: str | None = None  # its text when it was malformed

    def handler(self, row: pa_csv.InvalidRow) -> str:
        if row.number is None:  # only a parallel reader lacks numbers; ours is serial
            return "error"
        if row.number < self.next_record:  # placed already, by an earlier pass over the file
            return "skip"
        with self._invalid_lock:
            self.invalid.append((row.number, row.actual_columns, row.text))
        return "skip"

    def restart(self) -> None:
        """Before the file is read again from its start: records reported but not yet placed
        will be reported again."""
        with self._invalid_lock:
            self.invalid = []

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
            for other in OTHER_DELIMITERS:
                if other != self.delimiter and text.count(other) == self.expected - 1:
                    return f"{reason}; the line seems to use {other!r} as delimiter"
        return reason


def _count_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _size(n_bytes: int) -> str:
    return f"{n_bytes >> 20} MiB" if n_bytes >= 1 << 20 else f"{n_bytes >> 10} KiB"


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


class _RecordTooLong(Exception):
    """A record is longer than Arrow's parse block: read the file again with larger blocks."""


class _CsvBlocks:
    """One CSV file as TextBlocks (see module docstring)."""

    def __init__(
        self, path: ReadableFile, contract: FileContract, dialect: FileDialect, block_bytes: int
    ) -> None:
        self.path = path
        self.contract = contract
        self.dialect = dialect
        self.block_bytes = block_bytes
        self.lines: _RecordLines | None = None
        self.rows_out = 0  # Arrow rows (blank ones included) handed out so far, in all passes

    def __iter__(self) -> Iterator[TextBlock]:
        parse_block = PARSE_BLOCK_BYTES
        while True:
            try:
                yield from self._read(parse_block)
                return
            except _RecordTooLong:
                if parse_block >= PARSE_BLOCK_BYTES * MAX_BLOCK_GROWTH:
                    assert self.lines is not None
                    raise ExportFileError(
                        f"{self.path}: line {self.lines.next_line}: a record runs on for more "
                        f"than {_size(2 * parse_block)} without ending; most likely a quoted "
                        f"value opened on this line is never closed; close the quote, or write a "
                        f'quote inside a quoted value as two quotes ("")'
                    ) from None
                parse_block *= 4

    def _read(self, parse_block: int) -> Iterator[TextBlock]:
        """One pass over the file, skipping the rows an earlier pass handed out."""
        with Utf8Source(self.path, self.dialect.encoding) as source:
            raw_header, header_line = self._header(source)
            self.header = [h.strip() for h in raw_header]
            self.layout = column_layout(self.path, self.header, self.contract, self.dialect)
            self.width = len(raw_header)
            if self.lines is None:
                self.lines = _RecordLines(
                    self.path, header_line + 1, self.dialect.delimiter, self.width
                )
            lines = self.lines
            lines.restart()
            skip = self.rows_out
            reader = self._open(source, raw_header, header_line - 1, parse_block, lines)
            pending: list[pa.RecordBatch] = []
            size = 0
            try:
                for batch in read_ahead(iter(reader), READ_AHEAD_BATCHES):
                    if skip:
                        if batch.num_rows <= skip:
                            skip -= batch.num_rows
                            continue
                        batch, skip = batch.slice(skip), 0
                    pending.append(batch)
                    size += batch.nbytes
                    if size >= self.block_bytes:
                        yield self._block(pending, lines)
                        pending, size = [], 0
            except pa.ArrowInvalid as exc:
                if pending:
                    yield self._block(pending, lines)
                if _straddles(exc):
                    raise _RecordTooLong from None
                _, malformed = lines.place(np.zeros(0, dtype=np.int64), final=True)
                if len(malformed):
                    yield TextBlock.empty(self.contract, malformed)
                raise self._parse_error(exc, lines.next_line) from None
            yield self._block(pending, lines, final=True)
            if lines.unclosed_at_end(source.breaks):
                raise ExportFileError(
                    f"{self.path}: line {lines.last_start}: a quoted value opened on this line is "
                    f"never closed, so the rest of the file would be one value; close the quote, "
                    f'or write a quote inside a quoted value as two quotes ("")'
                )

    def _header(self, source: Utf8Source) -> tuple[list[str], int]:
        """The header's cells and its line: 1, or 2 below an Excel `sep=` line that agrees with
        the mapping. Fails on what is no header (see `header.check_header`)."""
        head = source.peek_lines(HEADER_SEARCH_LINES + 3)
        if not head.strip():
            while not source.exhausted and not head.strip():
                head = source.read()
            if not head.strip():
                raise ExportFileError(
                    f"{self.path}: the file is empty; the ERP must write at least a header line "
                    f"({', '.join(self.contract.required_names)})"
                )
            head = b""  # blank first line, content later: the header is blank
        text = head.decode("utf-8", errors="replace")
        searched = HEADER_SEARCH_LINES + 2  # a `sep=` line, the header, the lines below
        first_lines = re.split(_LINE_BREAK, text, maxsplit=searched)[:searched]
        refuse_markup(self.path, first_lines[0])
        header_line = 1
        sep = excel_sep_hint(first_lines[0])
        if sep is not None:
            if sep != self.dialect.delimiter:
                raise ExportFileError(
                    f"{self.path}: line 1 is Excel's delimiter line `sep={sep}`, but the mapping "
                    f'says delimiter {self.dialect.delimiter!r}; set `delimiter = "{sep}"` for '
                    f"{self.contract.kind.value} in the mapping file"
                )
            header_line = 2  # Excel's hint agrees with the mapping: read below it
        cells = [self._cells(line) for line in first_lines]
        raw_header = cells[header_line - 1] if len(cells) >= header_line else [""]
        below = list(enumerate(cells[header_line:], start=header_line + 1))
        check_header(
            self.path,
            [h.strip() for h in raw_header],
            self.contract,
            self.dialect,
            first_lines[header_line - 1] if len(first_lines) >= header_line else "",
            below,
            header_at=header_line,
        )
        return raw_header, header_line

    def _cells(self, line: str) -> list[str]:
        """One line split as CSV (for the header and the lines searched below it)."""
        try:
            return next(csv.reader([line], delimiter=self.dialect.delimiter), [""])
        except csv.Error:  # e.g. a value above the csv module's field limit: no header there
            return [line]

    def _open(
        self,
        source: Utf8Source,
        raw_header: list[str],
        skip_rows: int,
        parse_block: int,
        lines: _RecordLines,
    ) -> pa_csv.CSVStreamingReader:
        read = pa_csv.ReadOptions(block_size=parse_block, use_threads=False, skip_rows=skip_rows)
        parse = pa_csv.ParseOptions(
            delimiter=self.dialect.delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=lines.handler,
        )
        types = {name: pa.string() for name in raw_header}
        for name, position in self.layout.items():
            if self.contract.column(name).repeats:
                types[raw_header[position]] = _ENCODED
        convert = pa_csv.ConvertOptions(
            column_types=types,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,  # the source already checked or transcoded every byte
        )
        try:
            reader = pa_csv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            if _straddles(exc):  # the first record after the header is already too long
                raise _RecordTooLong from None
            raise self._parse_error(exc, lines.next_line) from None
        if reader.schema.names != raw_header or not all(
            reader.schema.types[i] == types[name] for i, name in enumerate(raw_header)
        ):
            raise ExportFileError(
                f"{self.path}: the header line cannot be read as {len(raw_header)} column names "
                f"separated by {self.dialect.delimiter!r}; check for quotes in the header"
            )
        return reader

    def _parse_error(self, exc: pa.ArrowInvalid, line: int) -> ExportFileError:
        return ExportFileError(
            f"{self.path}: cannot be parsed as CSV with delimiter {self.dialect.delimiter!r} "
            f"near line {line} ({exc}); check for an unclosed quote on or before that line"
        )

    def _block(
        self, batches: Sequence[pa.RecordBatch], lines: _RecordLines, final: bool = False
    ) -> TextBlock:
        table = pa.Table.from_batches(batches, schema=batches[0].schema) if batches else None
        if table is not None and _ENCODED in table.schema.types:
            table = table.unify_dictionaries()  # one dictionary per column across the batches
        rows = table.num_rows if table is not None else 0
        self.rows_out += rows
        spans = np.ones(rows, dtype=np.int64)
        blank: np.ndarray | None = np.ones(rows, dtype=bool) if rows else None
        encoded: dict[int, TextColumn] = {}
        for i in range(self.width if table is not None else 0):
            column = table.column(i)
            if i in self.layout.values():
                text = encoded[i] = encode_text(column)
                breaks = _line_breaks(text.values)
                if breaks is not None:
                    spans += breaks[text.codes]
                if blank is not None:
                    blank &= blank_values(text.values)[text.codes]
            else:
                breaks = _line_breaks(column)
                if breaks is not None:
                    spans += breaks
                if blank is not None:
                    blank &= blank_values(column)
            if blank is not None and not blank.any():
                blank = None  # no blank row: stop looking
        row_lines, malformed = lines.place(spans, final=final)
        self._refuse_repeated_header(encoded, row_lines)
        keep = None if blank is None else ~blank
        columns = {}
        for name in self.contract.names:
            position = self.layout.get(name)
            if position is None or table is None:
                columns[name] = TextColumn.constant(rows)
            else:
                columns[name] = encoded[position]
            if keep is not None:
                columns[name] = columns[name].take(keep)
        if keep is not None:
            row_lines = row_lines[keep]
        return TextBlock(columns, row_lines, malformed)

    def _refuse_repeated_header(self, encoded: dict[int, TextColumn], lines: np.ndarray) -> None:
        """A row whose every contract column holds its header text is the header again. Looked
        up among the distinct values; only a hit in every column costs a pass over the rows."""
        if not encoded:
            return
        rows: np.ndarray | None = None
        for position, text in encoded.items():
            found = pc.index(text.values, self.header[position]).as_py()
            if found < 0:
                stripped = pc.utf8_trim_whitespace(text.values)
                found = pc.index(stripped, self.header[position]).as_py()
            if found < 0:
                return
            hit = text.codes == found
            rows = hit if rows is None else rows & hit
            if not rows.any():
                return
        if rows is not None and rows.any():
            raise repeated_header_error(self.path, "line", int(lines[np.flatnonzero(rows)[0]]))


def _straddles(exc: pa.ArrowInvalid) -> bool:
    return "straddling" in str(exc)


def iter_text_blocks(
    path: ReadableFile, contract: FileContract, dialect: FileDialect, block_bytes: int | None = None
) -> Iterator[TextBlock]:
    """One file as consecutive TextBlocks of about `block_bytes` of text each. Raises
    ExportFileError for faults of the whole file (possibly after yielding earlier blocks).
    The file's first bytes, not its name, say whether it is a workbook or (gzipped) text."""
    if sniff_format(path) is FileFormat.XLSX:
        return iter([read_sheet(path, contract, dialect)])
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
        frame = TextBlock.empty(contract).text_frame()
    return ExportText(frame, concat_rejects(malformed))


def read_export_file(
    path: ReadableFile, contract: FileContract, dialect: FileDialect
) -> pd.DataFrame:
    """One file -> all-text frame with the contract's columns (missing optional ones empty)
    plus `_line`. Blank rows are skipped; rows with the wrong number of fields are left out
    (`read_export` returns them as rejects). Raises ExportFileError for faults of the whole
    file."""
    return read_export(path, contract, dialect).frame
