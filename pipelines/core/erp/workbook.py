"""One sheet of an .xlsx workbook as a TextBlock, each cell with the type it holds.

A number Excel stored is a number (1234.5 stays 1234.5 whatever the mapping's CSV notation) and
a date cell is a date: neither is turned into text and parsed again. Text cells are text the ERP
wrote, so they go through the mapping like CSV. A cell the workbook cannot give a value for (an
error value such as #N/A, a formula whose result was never saved) makes its row a reject that
names the sheet and the cell. Hidden sheets are never read unless the mapping names them: the
sheet is the one named in the mapping, else the single visible one, else the visible one named
after the kind. A workbook holds at most ~1M rows (Excel's limit), so it is read whole.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from typing import BinaryIO

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
from openpyxl.utils import get_column_letter

from pipelines.core.erp.contract import FileContract
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.header import (
    HEADER_SEARCH_LINES,
    check_header,
    column_layout,
    repeated_header_error,
)
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.source import ReadableFile
from pipelines.core.erp.text_block import TextBlock, TextColumn
from pipelines.core.rejects import empty_rejects, reject_frame

# What Excel shows where a formula failed: in a workbook an error cell (read as this text), in a
# CSV export the text itself. Either way a value nobody has.
EXCEL_ERRORS = frozenset(
    ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"]
)
# A formula element in the sheet's XML (any namespace prefix): only then are formulas looked at.
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_EXACT_INTEGER = 2**53


def read_sheet(path: ReadableFile, contract: FileContract, dialect: FileDialect) -> TextBlock:
    """The chosen sheet of a workbook as one block (see module docstring)."""
    with path.open("rb") as stream:  # a stream: openpyxl would refuse a workbook named .csv
        book = _load(stream, path, data_only=True)
        try:
            sheet = choose_sheet(path, book, contract, dialect)
            try:
                formulas = _formula_cells(path, book[sheet])
                return _SheetRows(path, sheet, contract, dialect, formulas).block(book[sheet])
            except ExportFileError:
                raise
            except Exception as exc:  # a damaged sheet: openpyxl raises many kinds
                raise ExportFileError(
                    f"{path}: sheet {sheet!r} cannot be read ({exc}); the workbook may be "
                    f"damaged or truncated: export it again"
                ) from None
        finally:
            book.close()


def _load(stream: BinaryIO, path: ReadableFile, data_only: bool) -> openpyxl.Workbook:
    try:
        return openpyxl.load_workbook(stream, read_only=True, data_only=data_only)
    except Exception as exc:  # openpyxl raises many kinds; all mean "unreadable"
        raise ExportFileError(f"{path}: not a readable .xlsx workbook ({exc})") from None


def choose_sheet(
    path: ReadableFile, book: openpyxl.Workbook, contract: FileContract, dialect: FileDialect
) -> str:
    """The sheet named in the mapping; else the single visible sheet; else the visible sheet
    named after the kind. A hidden sheet is read only when the mapping names it."""
    kind = contract.kind.value
    names = book.sheetnames
    visible = [ws.title for ws in book.worksheets if ws.sheet_state == "visible"]
    hidden = [name for name in names if name not in visible]
    if dialect.sheet:
        if dialect.sheet not in names:
            raise ExportFileError(
                f"{path}: no sheet named {dialect.sheet!r} (sheets: {names}); fix `sheet` "
                f"for {kind} in the mapping file"
            )
        return dialect.sheet
    if len(visible) == 1:
        return visible[0]
    if kind in visible:
        return kind
    counted = (
        f"{len(visible)} visible sheets {visible}" if hidden else f"{len(names)} sheets {names}"
    )
    hidden_note = f" (hidden, never read unless the mapping names them: {hidden})" if hidden else ""
    raise ExportFileError(
        f"{path}: the workbook has {counted}{hidden_note} and none is named {kind!r}; set "
        f'`sheet = "..."` under [{kind}] in the mapping file'
    )


def _formula_cells(path: ReadableFile, sheet: object) -> dict[tuple[int, int], str]:
    """(row, column index) -> formula of the sheet's formula cells (read again without cached
    values, only when the sheet's XML holds a formula at all)."""
    part = getattr(sheet, "_worksheet_path", None)
    if part is not None:
        try:
            with (
                path.open("rb") as stream,
                zipfile.ZipFile(stream) as archive,
                archive.open(part.lstrip("/")) as xml,
            ):
                if not any(_FORMULA_TAG.search(chunk) for chunk in _overlapping_chunks(xml)):
                    return {}
        except (KeyError, zipfile.BadZipFile, OSError):
            pass  # look at the cells instead
    with path.open("rb") as stream:
        book = _load(stream, path, data_only=False)
        try:
            found = {}
            for row in book[sheet.title].iter_rows():  # type: ignore[attr-defined]
                for cell in row:
                    if getattr(cell, "data_type", None) == "f":
                        found[(cell.row, cell.column - 1)] = str(cell.value)
            return found
        finally:
            book.close()


def _overlapping_chunks(stream: object, size: int = 1 << 20):
    """Chunks of a stream overlapping by a few bytes, so a tag cut at a boundary is seen."""
    tail = b""
    while chunk := stream.read(size):  # type: ignore[attr-defined]
        yield tail + chunk
        tail = chunk[-8:]


class _Distinct:
    """The distinct cells of one column, built as the rows are read: a cell costs one dict
    lookup; its text, number and date are worked out once per distinct value."""

    def __init__(self) -> None:
        self.index: dict[tuple[type, object], int] = {}
        self.texts: list[str] = []
        self.numbers: list[float] = []
        self.dates: list[object] = []
        self.codes: list[int] = []

    def add(self, value: object) -> None:
        key = (type(value), value)  # 1, 1.0 and True are equal as dict keys; their types differ
        code = self.index.get(key)
        if code is None:
            code = self.index[key] = len(self.texts)
            self.texts.append(_cell_text(value))
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            self.numbers.append(float(value) if is_number else math.nan)  # type: ignore[arg-type]
            is_date = isinstance(value, dt.date)
            if is_date and not isinstance(value, dt.datetime):
                value = dt.datetime.combine(value, dt.time())  # type: ignore[arg-type]
            self.dates.append(value if is_date else None)
        self.codes.append(code)

    def column(self) -> TextColumn:
        if not self.texts:
            return TextColumn.constant(0)
        dates = np.array(
            [np.datetime64("NaT") if d is None else np.datetime64(d, "ns") for d in self.dates],
            dtype="datetime64[ns]",
        )
        return TextColumn(
            np.asarray(self.codes, dtype=np.int32),
            pa.array(self.texts, type=pa.string()),
            np.asarray(self.numbers, dtype=np.float64),
            dates,
        )


class _SheetRows:
    """The rows of one sheet: header, typed cells per contract column, unusable cells."""

    def __init__(
        self,
        path: ReadableFile,
        sheet: str,
        contract: FileContract,
        dialect: FileDialect,
        formulas: dict[tuple[int, int], str],
    ) -> None:
        self.path = path
        self.sheet = sheet
        self.contract = contract
        self.dialect = dialect
        self.formulas = formulas
        self.where = f"sheet {sheet!r} row"

    def block(self, worksheet: object) -> TextBlock:
        worksheet.reset_dimensions()  # type: ignore[attr-defined]  # a stale dimension hides rows
        rows = worksheet.iter_rows(values_only=True)  # type: ignore[attr-defined]
        header = [_header_text(value) for value in next(rows, ())]
        while header and not header[-1]:
            header.pop()
        if not header:
            raise ExportFileError(f"{self.path}: sheet {self.sheet!r} is empty")
        read = list(rows)
        below = [
            (number, [_header_text(value) for value in row])
            for number, row in enumerate(read[:HEADER_SEARCH_LINES], start=2)
        ]
        check_header(self.path, header, self.contract, self.dialect, "", below, where=self.where)
        layout = column_layout(self.path, header, self.contract, self.dialect)
        return self._cells(read, header, layout)

    def _cells(self, rows: list[tuple], header: list[str], layout: dict[str, int]) -> TextBlock:
        names, positions = list(layout), list(layout.values())
        header_cells = [header[i] for i in positions]
        distinct = [_Distinct() for _ in names]
        lines, faults = [], []
        for number, row in enumerate(rows, start=2):
            cells = [row[i] if i < len(row) else None for i in positions]
            if self._blank(number, row):
                continue
            if cells == header_cells:
                raise repeated_header_error(self.path, self.where, number)
            fault = self._fault(number, names, positions, cells)
            if fault is not None:
                faults.append(fault)
                continue
            lines.append(number)
            for column, value in zip(distinct, cells, strict=True):
                column.add(value)
        by_name = dict(zip(names, distinct, strict=True))
        columns = {
            name: by_name[name].column() if name in by_name else TextColumn.constant(len(lines))
            for name in self.contract.names
        }
        return TextBlock(columns, np.asarray(lines, dtype=np.int64), self._rejects(faults))

    def _blank(self, number: int, row: tuple) -> bool:
        """No value and no formula (a formula whose result was never saved is not blank)."""
        if not all(v is None or (type(v) is str and not v.strip()) for v in row):
            return False
        return not self.formulas or not any((number, i) in self.formulas for i in range(len(row)))

    def _fault(
        self, number: int, names: list[str], positions: list[int], cells: list[object]
    ) -> tuple[int, str, str, str] | None:
        """(line, field, value, reason) of the first cell that holds no usable value."""
        for name, position, value in zip(names, positions, cells, strict=True):
            cell = f"{get_column_letter(position + 1)}{number}"
            if type(value) is str and value.strip() in EXCEL_ERRORS:
                return (
                    number,
                    name,
                    value,
                    f"Excel error value {value.strip()} in sheet {self.sheet!r} cell {cell}; "
                    f"correct the formula or the value in the workbook and export it again",
                )
            if value is None and (number, position) in self.formulas:
                formula = self.formulas[(number, position)]
                return (
                    number,
                    name,
                    formula,
                    f"formula {formula} in sheet {self.sheet!r} cell {cell} has no saved value "
                    f"(the program that wrote the workbook did not calculate it); open and save "
                    f"the workbook in Excel, or export values instead of formulas",
                )
        return None

    def _rejects(self, faults: list[tuple[int, str, str, str]]) -> pd.DataFrame:
        if not faults:
            return empty_rejects()
        lines, fields, values, reasons = zip(*faults, strict=True)
        return reject_frame(
            str(self.path),
            np.asarray(lines, dtype=np.int64),
            np.asarray(fields, dtype=object),
            np.asarray(values, dtype=object),
            np.asarray(reasons, dtype=object),
        )


def _header_text(value: object) -> str:
    return "" if value is None else _cell_text(value).strip()


def _cell_text(value: object) -> str:
    """A cell's text: integral numbers without ".0" (codes and EANs stored as numbers), dates
    at midnight as the day."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_INTEGER:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
