"""Staged days and day digests at the sizes a range run has, without a Python object per row:
the split by day keeps each day's rows in the frame's order (also for a frame not in day
order), and the digests are the ones the former per-row `groupby` gave, so the digests of days
Paqtana already accepted (in the state database) still match."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from pipelines.core.paqtana.demand_days import day_digests
from pipelines.core.staging import StagingMissingError, StagingStore

FIRST = dt.date(2026, 11, 1)


def demand(rows: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = np.sort(rng.integers(0, 10, rows))  # day 10 of the range stays empty
    return pd.DataFrame(
        {
            "date": pd.to_datetime(FIRST) + pd.to_timedelta(days, unit="D"),
            "location": pd.Categorical(rng.choice(["WH-A", "WH-B"], rows)),
            "code": pd.Categorical([f"SKU-{i}" for i in rng.integers(0, 50, rows)]),
            "quantity": rng.integers(0, 9, rows) + 0.5 * (rng.random(rows) < 0.1),
        }
    )


def reference_digests(frame: pd.DataFrame) -> dict[dt.date, tuple[str, int]]:
    """The definition: per day, a sum (mod 2**64) of the row hashes and a xor of the hashes
    times 0x9E3779B1 (mod 2**64), in Python integers."""
    hashes = pd.util.hash_pandas_object(frame[["location", "code", "quantity"]], index=False)
    out = {}
    for day, group in pd.Series(hashes.to_numpy()).groupby(frame["date"].dt.date.to_numpy()):
        values = [int(h) for h in group]
        total = sum(values) % 2**64
        mixed = 0
        for h in values:
            mixed ^= (h * 0x9E3779B1) % 2**64
        text = f"{len(values)}:{total}:{mixed}"
        out[day] = (hashlib.sha256(text.encode()).hexdigest(), len(values))
    return out


def test_day_digests_are_the_defined_ones_in_any_row_order():
    frame = demand()
    digests = day_digests(frame)
    assert digests == reference_digests(frame)
    assert day_digests(frame.sample(frac=1, random_state=3)) == digests
    changed = frame.copy()
    changed.loc[5, "quantity"] += 1
    day = changed.loc[5, "date"].date()
    assert {d for d in digests if day_digests(changed)[d] != digests[d]} == {day}
    undated = frame.copy()
    undated.loc[0, "date"] = pd.NaT
    assert sum(n for _, n in day_digests(undated).values()) == len(frame) - 1
    assert day_digests(frame.iloc[0:0]) == {}


def test_days_are_written_one_file_each_with_their_rows_in_frame_order(tmp_path):
    frame = demand()
    shuffled = frame.sample(frac=1, random_state=5)
    last = FIRST + dt.timedelta(days=10)
    for name, source in (("sorted", frame), ("shuffled", shuffled)):
        store = StagingStore(tmp_path / name)
        paths = store.write_days("erp_demand", FIRST, last, source)
        assert len(paths) == 11 and all(p.exists() for p in paths)
        for offset in (0, 4, 10):
            day = FIRST + dt.timedelta(days=offset)
            expected = source[source["date"].dt.date == day].reset_index(drop=True)
            written = store.read_day("erp_demand", day)
            assert len(written) == len(expected)
            pd.testing.assert_frame_equal(written, expected, check_categorical=False)
        back = store.read_days("erp_demand", FIRST, last)
        assert len(back) == len(frame)


def test_days_read_together_keep_their_values_whatever_each_days_categories(tmp_path):
    store = StagingStore(tmp_path)
    one = pd.DataFrame({"code": pd.Categorical(["A", "B"]), "quantity": [1.0, 2.0]})
    two = pd.DataFrame({"code": pd.Categorical(["C"]), "quantity": [3.0]})
    three = pd.DataFrame({"code": ["D"], "quantity": [4]})  # another day's file, other types
    store.write_day("demand", FIRST, one)
    store.write_day("demand", FIRST + dt.timedelta(days=1), two)
    both = store.read_days("demand", FIRST, FIRST + dt.timedelta(days=1))
    assert both["code"].astype(str).tolist() == ["A", "B", "C"]
    assert both["quantity"].tolist() == [1.0, 2.0, 3.0]
    store.write_day("demand", FIRST + dt.timedelta(days=2), three)
    every = store.read_days("demand", FIRST, FIRST + dt.timedelta(days=2))
    assert every["code"].astype(str).tolist() == ["A", "B", "C", "D"]
    assert every["quantity"].tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(StagingMissingError, match="2026-11-04"):
        store.read_days("demand", FIRST, FIRST + dt.timedelta(days=3))
