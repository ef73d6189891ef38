"""Reading one export file into an all-text frame with each row's source line number.

Everything is read as text so that the validator, not the reader, decides what a bad number or
date is: a reader that guesses types would turn a bad row into a file-level failure or a NaN.
File-level faults raise ExportFileError naming the file, where in it, and the fix.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from pipelines.core.erp.contract import FileContract
from pipelines.core.erp.mapping import FileDialect

LINE = "_line"  # name of the source-line column carried next to the data columns
SUFFIXES = (".csv", ".csv.gz", ".xlsx")


class ExportFileError(ValueError):
    """A whole file cannot be used. The message names the file, the place and the fix."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in SUFFIXES if name.endswith(s)), "")


def _read_bytes(path: Path) -> bytes:
    if _suffix(path) == ".csv.gz":
        try:
            with gzip.open(path, "rb") as fh:
                return fh.read()
        except (OSError, EOFError) as exc:
            raise ExportFileError(f"{path}: not a readable gzip file ({exc})") from None
    return path.read_bytes()


def _decode(path: Path, raw: bytes, encoding: str) -> str:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ExportFileError(
            f"{path}: unknown encoding {encoding!r} in the mapping file"
        ) from None
    if raw.startswith(codecs.BOM_UTF8):
        raw, encoding = raw[len(codecs.BOM_UTF8) :], "utf-8"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise ExportFileError(
            f"{path}: byte 0x{byte} at offset {exc.start} (line {line}) is not valid {encoding}; "
            f'set `encoding` for this file kind in the mapping file (e.g. "cp1252" or '
            f'"latin-1" for Windows exports)'
        ) from None


def _check_header(
    path: Path, header: list[str], contract: FileContract, dialect: FileDialect, first_line: str
) -> None:
    """Fail on a header that cannot carry the contract's required columns."""
    renamed = [dialect.rename.get(h, h) for h in header]
    missing = [c for c in contract.required_names if c not in renamed]
    if not missing:
        return
    if len(header) == 1:
        for other in (";", ",", "\t", "|"):
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


def _finish(
    path: Path, frame: pd.DataFrame, contract: FileContract, dialect: FileDialect
) -> pd.DataFrame:
    frame = frame.rename(columns=lambda c: dialect.rename.get(str(c).strip(), str(c).strip()))
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise ExportFileError(
            f"{path}: column(s) {duplicated} appear twice after renaming; fix the mapping file"
        )
    # Extra columns are kept out of the clean frame but never fail the file.
    wanted = [c for c in contract.names if c in frame.columns]
    out = frame[wanted].copy()
    for name in contract.names:
        if name not in out.columns:
            out[name] = ""
    out = out[contract.names]
    out[LINE] = frame[LINE].to_numpy()
    return out


def read_csv_text(
    path: Path, text: str, contract: FileContract, dialect: FileDialect
) -> pd.DataFrame:
    """Parse decoded CSV text. Source lines are exact even with quoted embedded newlines."""
    if not text.strip():
        raise ExportFileError(
            f"{path}: the file is empty; the ERP must write at least a header line "
            f"({', '.join(contract.required_names)})"
        )
    first_line = text.split("\n", 1)[0]
    header = next(csv.reader([first_line], delimiter=dialect.delimiter))
    header = [h.strip() for h in header]
    _check_header(path, header, contract, dialect, first_line)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=dialect.delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise ExportFileError(
            f"{path}: cannot be parsed as CSV with delimiter {dialect.delimiter!r} ({exc}); "
            f"check for an unclosed quote on or before that line"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame[LINE] = _record_lines(text, dialect.delimiter, len(frame))
    return _finish(path, frame, contract, dialect)


def _record_lines(text: str, delimiter: str, expected: int) -> list[int]:
    """Physical line on which each data record starts (1-based, header is line 1).

    The csv module tracks line numbers across quoted newlines; it runs only as a light second
    pass over the same text, yielding just the counter.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[int] = []
    previous_end = 0
    for i, record in enumerate(reader):
        start = previous_end + 1
        previous_end = reader.line_num
        if i == 0 or not record:  # header, or a blank line pandas skips too
            continue
        lines.append(start)
    if len(lines) != expected:  # pandas and csv disagreed: fall back to row order
        return list(range(2, expected + 2))
    return lines


def read_xlsx(path: Path, contract: FileContract, dialect: FileDialect) -> pd.DataFrame:
    try:
        sheets = pd.read_excel(
            path, sheet_name=None, dtype=str, keep_default_na=False, engine="openpyxl"
        )
    except Exception as exc:  # openpyxl raises many kinds; all mean "unreadable"
        raise ExportFileError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    if dialect.sheet:
        if dialect.sheet not in sheets:
            raise ExportFileError(
                f"{path}: no sheet named {dialect.sheet!r} (sheets: {list(sheets)}); fix `sheet` "
                f"for {contract.kind.value} in the mapping file"
            )
        frame = sheets[dialect.sheet]
    elif len(sheets) == 1:
        frame = next(iter(sheets.values()))
    elif contract.kind.value in sheets:
        frame = sheets[contract.kind.value]
    else:
        raise ExportFileError(
            f"{path}: the workbook has {len(sheets)} sheets {list(sheets)} and none is named "
            f'{contract.kind.value!r}; set `sheet = "..."` under [{contract.kind.value}] in the '
            f"mapping file"
        )
    header = [str(c).strip() for c in frame.columns]
    if frame.empty and not header:
        raise ExportFileError(f"{path}: the sheet is empty")
    _check_header(path, header, contract, dialect, "")
    frame.columns = header
    frame[LINE] = range(2, len(frame) + 2)
    return _finish(path, frame, contract, dialect)


def read_export_file(path: Path, contract: FileContract, dialect: FileDialect) -> pd.DataFrame:
    """One file -> all-text frame with the contract's columns (missing optional ones empty)
    plus `_line`. Raises ExportFileError for faults of the whole file."""
    suffix = _suffix(path)
    if suffix == ".xlsx":
        return read_xlsx(path, contract, dialect)
    if suffix not in (".csv", ".csv.gz"):
        raise ExportFileError(f"{path}: unsupported file type; use .csv, .csv.gz or .xlsx")
    text = _decode(path, _read_bytes(path), dialect.encoding)
    return read_csv_text(path, text, contract, dialect)
