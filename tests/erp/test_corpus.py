"""The bad-input corpus (tests/erp/corpus/cases.toml): each file, dropped into a fresh export
folder and extracted, gives exactly the error or the rejects and clean rows its case states."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.erp.contract import CONTRACTS, FileKind
from pipelines.core.erp.drops import DropNotReadyError
from pipelines.core.erp.export_store import ExportStore, as_export_store
from pipelines.core.erp.extract import ExtractResult, extract_demand, extract_snapshot
from pipelines.core.erp.mapping import ErpMapping, load_mapping
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
    assert files == {case["file"] for case in CASES}
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict, tmp_path: Path):
    check_case(case, tmp_path)


def check_case(
    case: dict,
    tmp_path: Path,
    publish: Callable[[Path], ExportStore | Path] = lambda exports: exports,
) -> None:
    """Extract the case's file from `publish(exports)`: the local folder itself, or the same
    files on a remote store (tests/remote), where names in errors and rejects are its URLs."""
    exports = tmp_path / "exports"
    history = case.get("place", "drop") == "history"
    folder = exports / ("history" if history else DAY.isoformat())
    folder.mkdir(parents=True)
    path = folder / case["file"]
    shutil.copyfile(CORPUS / case["file"], path)
    if not history and case.get("success", True):
        (folder / "_SUCCESS").write_text("")
    kind = FileKind(case["kind"])
    mapping = mapping_with(tmp_path, kind.value, case.get("mapping", {}))
    location = publish(exports)
    shown_root = as_export_store(location).location

    def shown(local: Path) -> str:
        return shown_root + str(local)[len(str(exports)) :]

    def extract() -> ExtractResult:
        if kind is FileKind.DEMAND:
            start = dt.date.fromisoformat(case.get("start", DAY.isoformat()))
            end = dt.date.fromisoformat(case.get("end", DAY.isoformat()))
            return extract_demand(location, start, end, mapping)
        return extract_snapshot(location, DAY, kind, mapping)

    if "error" in case:
        with pytest.raises(ERRORS[case.get("error_type", "ExportFileError")]) as raised:
            extract()
        expected = case["error"].replace("{path}", shown(path)).replace("{drop}", shown(folder))
        assert str(raised.value) == expected
        return

    result = extract()
    rejects = result.rejects[["line", "field", "value", "reason"]].values.tolist()
    assert rejects == case["rejects"]
    assert set(result.rejects["file"]) <= {shown(path)}
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
