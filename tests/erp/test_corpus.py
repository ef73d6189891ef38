"""The bad-input corpus (tests/erp/corpus/cases.toml): each file, dropped into a fresh export
folder and extracted, gives exactly the error or the rejects and clean rows its case states;
and, read by a reference reader of its own, no clean value is other than the ERP wrote it."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math
import re
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipelines.core.erp.contract import CONTRACTS, ColumnType, FileContract, FileKind
from pipelines.core.erp.drops import DropNotReadyError
from pipelines.core.erp.export_store import ExportStore, as_export_store
from pipelines.core.erp.extract import ExtractResult, extract_demand, extract_snapshot
from pipelines.core.erp.mapping import ErpMapping, FileDialect, load_mapping
from pipelines.core.erp.reader import ExportFileError
from tests.conftest import CANONICAL_MAPPING

CORPUS = Path(__file__).parent / "corpus"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]
DAY = dt.date(2026, 11, 21)
ERRORS = {"ExportFileError": ExportFileError, "DropNotReadyError": DropNotReadyError}


def mapping_with(tmp_path: Path, kind: str, overrides: dict) -> ErpMapping:
    """The canonical mapping plus this case's overrides for its kind, as a real mapping file."""
    lines = [CANONICAL_MAPPING.read_text(encoding="utf-8"), f"[{kind}]"]
    for key, value in overrides.items():
        if key != "rename":
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    if overrides.get("rename"):
        lines.append(f"[{kind}.rename]")
        lines += [
            f"{json.dumps(k, ensure_ascii=False)} = {json.dumps(v, ensure_ascii=False)}"
            for k, v in overrides["rename"].items()
        ]
    path = tmp_path / "mapping.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_mapping(path)


def plain(value: object) -> object:
    """A clean-frame cell as the TOML writes it: dates as YYYY-MM-DD, missing as None."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def test_every_corpus_file_has_a_case_and_every_case_a_file():
    files = {p.name for p in CORPUS.iterdir() if p.name not in ("cases.toml", ".gitattributes")}
    assert files == {name for case in CASES for name in [case["file"], *case.get("also", [])]}
    assert len({case["id"] for case in CASES}) == len(CASES)


@dataclass
class Dropped:
    """A case's files in a fresh export folder, with the case's mapping."""

    case: dict
    exports: Path
    folder: Path
    path: Path
    kind: FileKind
    mapping: ErpMapping
    location: ExportStore | Path  # where extraction reads the exports folder from

    @classmethod
    def of(
        cls,
        case: dict,
        tmp_path: Path,
        publish: Callable[[Path], ExportStore | Path] = lambda exports: exports,
    ) -> Dropped:
        exports = tmp_path / "exports"
        history = case.get("place", "drop") == "history"
        folder = exports / ("history" if history else DAY.isoformat())
        folder.mkdir(parents=True)
        for name in [case["file"], *case.get("also", [])]:
            shutil.copyfile(CORPUS / name, folder / name)
        if not history and case.get("success", True):
            (folder / "_SUCCESS").write_text("")
        kind = FileKind(case["kind"])
        mapping = mapping_with(tmp_path, kind.value, case.get("mapping", {}))
        path = folder / case["file"]
        return cls(case, exports, folder, path, kind, mapping, publish(exports))

    def shown(self, local: Path) -> str:
        """A file of the local folder as errors and rejects name it where it is read from."""
        return as_export_store(self.location).location + str(local)[len(str(self.exports)) :]

    @property
    def range(self) -> tuple[dt.date, dt.date]:
        start = dt.date.fromisoformat(self.case.get("start", DAY.isoformat()))
        return start, dt.date.fromisoformat(self.case.get("end", start.isoformat()))

    def extract(self) -> ExtractResult:
        if self.kind is FileKind.DEMAND:
            return extract_demand(self.location, *self.range, self.mapping)
        return extract_snapshot(self.location, DAY, self.kind, self.mapping)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict, tmp_path: Path):
    check_case(case, tmp_path)


def check_case(
    case: dict,
    tmp_path: Path,
    publish: Callable[[Path], ExportStore | Path] = lambda exports: exports,
) -> None:
    """Extract the case's files from `publish(exports)`: the local folder itself, or the same
    files on a remote store (tests/remote), where names in errors and rejects are its URLs."""
    dropped = Dropped.of(case, tmp_path, publish)
    path, folder, kind, extract = dropped.path, dropped.folder, dropped.kind, dropped.extract
    shown = dropped.shown

    if "error" in case:
        with pytest.raises(ERRORS[case.get("error_type", "ExportFileError")]) as raised:
            extract()
        expected = case["error"].replace("{path}", shown(path)).replace("{drop}", shown(folder))
        assert str(raised.value) == expected
        return

    result = extract()
    rejects = result.rejects[["line", "field", "value", "reason"]].values.tolist()
    assert rejects == case["rejects"]
    assert set(result.rejects["file"]) <= {
        shown(folder / n) for n in [path.name, *case.get("also", [])]
    }
    columns = sorted({column for row in case["clean"] for column in row})
    clean = [
        {c: plain(v) for c, v in row.items()}
        for row in result.clean[columns].astype(object).to_dict("records")
    ]
    assert clean == [{c: row.get(c) for c in columns} for row in case["clean"]]
    assert list(result.clean.columns) == CONTRACTS[kind].names
    assert result.rows_read == case["rows_read"]
    # Every row read is clean, rejected or superseded: none is lost.
    assert (
        result.rows_clean_source + result.rows_superseded + result.rows_rejected == result.rows_read
    )


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case_changes_no_magnitude_counts_no_row_twice_and_alters_no_key(
    case: dict, tmp_path: Path
):
    """Every clean value against the case's files as a reference reader sees them (Python's csv
    module on the bytes in their true encoding, openpyxl's cell values): each accepted source
    row once, its numbers as written in the mapping's notation (or as the cell stores them), its
    keys as written. A case that is refused reads nothing at all."""
    dropped = Dropped.of(case, tmp_path)
    if "error" in case:
        with pytest.raises((ExportFileError, DropNotReadyError)):
            dropped.extract()
        return
    result = dropped.extract()
    refused = {(f, int(line)) for f, line in result.rejects[["file", "line"]].values}
    files = sorted([dropped.path.name, *case.get("also", [])])
    dialect = dropped.mapping.dialect(dropped.kind)
    contract = CONTRACTS[dropped.kind]
    accepted = []
    for name in files:
        rows = reference_rows(dropped.folder / name, dialect)
        assert_column_notation_consistent(rows, contract, dialect, name)
        accepted += [r for r in rows if (str(dropped.folder / name), r["_line"]) not in refused]
    expected = [meant(row, contract, dialect) for row in accepted]
    if dropped.kind is FileKind.DEMAND:
        start, end = dropped.range
        totals: dict[tuple, float] = {}
        for row in expected:
            if start <= row["date"] <= end:
                key = (row["date"], row["location"], row["code"])
                totals[key] = totals.get(key, 0.0) + row["quantity"]
        got = {(r.date.date(), r.location, r.code): r.quantity for r in result.clean.itertuples()}
        assert got == pytest.approx(totals)
        return
    key = list(contract.key)
    got = {tuple(row[k] for k in key): row for row in result.clean.to_dict("records")}
    assert sorted(got) == sorted(tuple(row[k] for k in key) for row in expected)
    for row in expected:
        clean = got[tuple(row[k] for k in key)]
        for name, value in row.items():
            if value is None:
                assert plain(clean[name]) in (None, ""), name
            else:
                assert clean[name] == pytest.approx(value), name


# --- the reference reader ------------------------------------------------------------------------

_SPACES = " \u00a0\u202f"


def reference_rows(path: Path, dialect: FileDialect) -> list[dict]:
    """Every non-blank data row as the ERP wrote it: canonical name -> cell (text, or the value
    of a typed workbook cell), with `_line`."""
    data = path.read_bytes()
    if data.startswith(b"\x1f\x8b"):
        data = gzip.decompress(data)
    if data.startswith(b"PK"):
        return _workbook_rows(path, dialect)
    text = _true_text(data, dialect.encoding)
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))  # the 3 MiB value
    records = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    rows, header, end = [], None, 0
    for record in records:
        start, end = end + 1, records.line_num
        if header is None:
            if dialect.delimiter.join(record) == f"sep={dialect.delimiter}":  # Excel's hint
                continue
            header = [dialect.rename.get(h.strip(), h.strip()) for h in record]
            continue
        if not any(field.strip() for field in record) or len(record) != len(header):
            continue
        rows.append({"_line": start, **dict(zip(header, record, strict=True))})
    return rows


def _true_text(data: bytes, declared: str) -> str:
    """The bytes in the encoding they are really in: UTF-16 by its BOM or zero bytes, UTF-8
    when they are valid UTF-8, else the declared encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data[1:200:2].count(0) > 50:
        return data.decode("utf-16-le")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode(declared)


def _workbook_rows(path: Path, dialect: FileDialect) -> list[dict]:
    book = openpyxl.load_workbook(path.open("rb"), data_only=True)
    visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
    sheet = book[dialect.sheet] if dialect.sheet else visible[0]
    values = list(sheet.iter_rows(values_only=True))
    header = [dialect.rename.get(str(h).strip(), str(h).strip()) for h in values[0] if h]
    rows = []
    for number, cells in enumerate(values[1:], start=2):
        if any(c not in (None, "") for c in cells):
            rows.append({"_line": number, **dict(zip(header, cells, strict=False))})
    return rows


def _reading(text: str, decimal: str, thousands: str) -> float | None:
    """The number a text is in a notation: thousands only between groups of three digits
    before the decimal separator, at most one decimal separator, an optional exponent."""
    groups = "[" + re.escape(thousands + _SPACES) + "]"
    point = re.escape(decimal)
    mantissa = rf"(?:(?:\d{{1,3}}(?:{groups}\d{{3}})+|\d+)(?:{point}\d+)?|{point}\d+)"
    grammar = rf"[+-]?{mantissa}(?:[eE][+-]?\d+)?"
    if not re.fullmatch(grammar, text):
        return None
    return float(re.sub(groups, "", text).replace(decimal, "."))


def _other(decimal: str) -> tuple[str, str]:
    return (",", ".") if decimal == "." else (".", ",")


def assert_column_notation_consistent(
    rows: list[dict], contract: FileContract, dialect: FileDialect, name: str
) -> None:
    """A column with a text only the other notation reads holds no accepted text the two
    notations read differently: else its magnitude would be a guess."""
    for column in contract.columns:
        if column.type is not ColumnType.NUMBER:
            continue
        texts = [r[column.name].strip() for r in rows if isinstance(r.get(column.name), str)]
        other = _other(dialect.decimal)
        ours = {t: _reading(t, dialect.decimal, dialect.thousands) for t in texts}
        theirs = {t: _reading(t, *other) for t in texts}
        only_theirs = [t for t in texts if ours[t] is None and theirs[t] is not None]
        ambiguous = [t for t in texts if None not in (ours[t], theirs[t]) and ours[t] != theirs[t]]
        assert not (only_theirs and ambiguous), (name, column.name, only_theirs, ambiguous)


def meant(row: dict, contract: FileContract, dialect: FileDialect) -> dict:
    """An accepted row as the ERP meant it: keys as written, numbers in the declared notation
    (or as the cell stores them), dates as days."""
    out: dict = {}
    for column in contract.columns:
        cell = row.get(column.name)
        text = cell.strip() if isinstance(cell, str) else cell
        if text in (None, ""):
            out[column.name] = None
        elif column.type is ColumnType.NUMBER:
            number = (
                text
                if isinstance(text, int | float)
                else _reading(text, dialect.decimal, dialect.thousands)
            )
            assert number is not None, (row["_line"], column.name, text)
            out[column.name] = float(number)
        elif column.type is ColumnType.DATE:
            out[column.name] = (
                text.date()
                if isinstance(text, dt.datetime)
                else next(d for fmt in dialect.date_formats if (d := _date(text, fmt)) is not None)
            )
        elif column.type is ColumnType.EAN:
            digits = re.sub(r"[\s\u00a0-]", "", str(text)).removesuffix(".0")
            out[column.name] = digits.zfill(13 if len(digits) > 8 else 8)
        else:
            text = str(text)
            if column.name in contract.key:
                assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text), text
            out[column.name] = text
    return out


def _date(text: str, fmt: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None
