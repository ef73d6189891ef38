"""atomic_path: a file is replaced whole or not at all, also when writers race for it (two runs
of one day write the same staging and rejects files at the same moment)."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest

from pipelines.core.atomic_file import atomic_path
from pipelines.core.staging import StagingStore


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path) -> None:
    target = tmp_path / "day.csv"
    target.write_text("old\n")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and not tmp.exists()
        tmp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["day.csv"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path) -> None:
    target = tmp_path / "day.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["day.csv"]


def test_racing_writers_all_succeed_and_the_file_is_one_of_them_whole(tmp_path) -> None:
    target = tmp_path / "staging" / "2026-11-21.csv"
    contents = [f"writer {w}\n" * 20_000 for w in range(6)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(contents))

    def write(content: str) -> None:
        start.wait()
        try:
            for _ in range(30):
                with atomic_path(target) as tmp:
                    tmp.write_text(content)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(c,)) for c in contents]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    assert target.read_text() in contents
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_two_runs_staging_the_same_day_at_once_both_succeed(tmp_path) -> None:
    store = StagingStore(tmp_path)
    day = dt.date(2026, 11, 21)
    frame = pd.DataFrame({"code": [f"SKU-{i}" for i in range(50_000)], "qty": 1.0})
    errors: list[BaseException] = []

    def stage() -> None:
        try:
            for _ in range(10):
                store.write_day("erp_items", day, frame)
                store.write_rejects("erp_items", day.isoformat(), frame.iloc[0:0])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    runs = [threading.Thread(target=stage) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert errors == []
    pd.testing.assert_frame_equal(store.read_day("erp_items", day), frame)
