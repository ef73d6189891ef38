"""The header of an export: where each contract column is, or why the file cannot be read.

Shared by the CSV and the spreadsheet readers. A header that lacks required columns is told
apart from what really sits on the first line: another delimiter, a title above the column
names (the names are a few lines further down), Excel's `sep=;` hint, or no CSV at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.core.erp.contract import FileContract
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.source import ReadableFile

# Lines (rows) below the first searched for the real header when the first is not it.
HEADER_SEARCH_LINES = 10
OTHER_DELIMITERS = (";", ",", "\t", "|")
# Excel writes `sep=;` as the first line of a CSV to say its delimiter (sometimes quoted).
_EXCEL_SEP = re.compile(r'\s*"?sep=(.)"?\s*', re.IGNORECASE)
_MARKUP = ("<!doctype", "<html", "<?xml", "<table")


def excel_sep_hint(line: str) -> str | None:
    """The delimiter an Excel `sep=` line names, or None when the line is not one."""
    match = _EXCEL_SEP.fullmatch(line)
    return match.group(1) if match else None


def refuse_markup(path: ReadableFile, first_line: str) -> None:
    """An 'Excel export' that is an HTML or XML document is no CSV: say so, not 'add a rename'."""
    if first_line.lstrip().lower().startswith(_MARKUP):
        raise ExportFileError(
            f"{path}: this is an HTML or XML document ({first_line.strip()[:60]!r}), not a CSV "
            f"file; export the data as CSV or .xlsx"
        )


def check_header(
    path: ReadableFile,
    header: list[str],
    contract: FileContract,
    dialect: FileDialect,
    first_line: str,
    below: Sequence[tuple[int, list[str]]] = (),
    where: str = "line",
    header_at: int = 1,
) -> None:
    """Fail on a header that cannot carry the contract's required columns. `below`: the next
    lines (number, cells), searched for the real header; `where` names a place ("line", or
    "sheet 'items' row")."""
    missing = _missing(header, contract, dialect)
    if not missing:
        return
    for number, cells in below:
        if not _missing([c.strip() for c in cells], contract, dialect):
            shown = first_line.strip()[:80] or ",".join(header)[:80]
            raise ExportFileError(
                f"{path}: {where} {header_at} ({shown!r}) is not the header: the column names "
                f"are on {where} {number}, so the export has a title or notes above them; "
                f"remove the {where.split()[-1]}s above the column names, or export without "
                f"a title"
            )
    if len(header) == 1:
        for other in OTHER_DELIMITERS:
            if other != dialect.delimiter and other in first_line:
                raise ExportFileError(
                    f"{path}: line {header_at} has one column with delimiter "
                    f"{dialect.delimiter!r}, but contains {other!r}; set `delimiter = "
                    f'"{other}"` for {contract.kind.value} in the mapping file'
                )
    raise ExportFileError(
        f"{path}: missing required column(s) {missing} for {contract.kind.value}; found "
        f"{header}; add a rename for them under [{contract.kind.value}.rename] in the mapping file"
    )


def _missing(header: list[str], contract: FileContract, dialect: FileDialect) -> list[str]:
    renamed = [dialect.rename.get(h, h) for h in header]
    return [c for c in contract.required_names if c not in renamed]


def column_layout(
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


def repeated_header_error(path: ReadableFile, where: str, number: int) -> ExportFileError:
    """The header again inside the file: two exports joined (an export appended to an existing
    file), whose rows would all be read twice. A file fault, not one bad row."""
    return ExportFileError(
        f"{path}: {where} {number} repeats the header: the file holds two exports one after the "
        f"other (an export appended to an existing file?), so its rows would be read twice; "
        f"export the file again (or keep only one copy of the rows)"
    )
