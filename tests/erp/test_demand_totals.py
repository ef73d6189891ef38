"""DemandTotals fed block by block: whatever path a block or a day takes (summed in the block by
counting, grouped by day only, merged early once a day holds more totals than series, placed by
rank or sorted at the end), the frame is the reference's: the highest priority wins per key, its
order lines summed in the order they came, the rest counted as superseded."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.core.erp import demand_totals
from pipelines.core.erp.demand_totals import DemandTotals

START = dt.date(2026, 1, 1)
LOCATIONS = np.array(["WH-B", "WH-A", "WH-C"])
CODES = np.array([f"SKU-{i:03d}" for i in range(40)])[::-1]  # first seen is not text order


def rows(
    rng: np.random.Generator, count: int, days: int, priority: int, unit: float = 0.25
) -> pd.DataFrame:
    """Quantities in steps of `unit`: sums of 0.25 are exact in float16 (kept so), of 1000.5
    in float32 only, of 0.1 in neither."""
    return pd.DataFrame(
        {
            "priority": priority,
            "day": rng.integers(0, days, count),
            "location": rng.choice(LOCATIONS, count),
            "code": rng.choice(CODES, count),
            "quantity": rng.integers(0, 9, count) * unit,
        }
    )


def fed(sources: list[pd.DataFrame], block_rows: int) -> DemandTotals:
    """The rows, block by block as the extract hands them over: each block's location and code
    as codes into its own distinct values (in first-seen order)."""
    totals = DemandTotals(START, START + dt.timedelta(days=99))
    for source in sources:
        for start in range(0, len(source), block_rows):
            block = source.iloc[start : start + block_rows]
            location_codes, locations = pd.factorize(block["location"])
            code_codes, codes = pd.factorize(block["code"])
            totals.add(
                int(block["priority"].iloc[0]),
                block["day"].to_numpy(dtype=np.uint8),
                location_codes.astype(np.int32),
                pd.Index(locations, dtype="str"),
                code_codes.astype(np.int32),
                pd.Index(codes, dtype="str"),
                block["quantity"].to_numpy(dtype=np.float64),
            )
    return totals


def reference(sources: list[pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    every = pd.concat(sources, ignore_index=True)
    key = ["day", "location", "code"]
    winner = every.groupby(key)["priority"].transform("max")
    kept = every[every["priority"] == winner]
    totals = kept.groupby(key, as_index=False)["quantity"].sum()
    totals["date"] = pd.Timestamp(START) + pd.to_timedelta(totals.pop("day"), "D")
    frame = totals[["date", "location", "code", "quantity"]].astype({"date": "datetime64[ns]"})
    return frame, len(every) - len(kept)


def check(totals: DemandTotals, sources: list[pd.DataFrame]) -> None:
    frame, kept, superseded = totals.frame()
    expected, expected_superseded = reference(sources)
    got = frame.astype({"location": str, "code": str})
    pd.testing.assert_frame_equal(got, expected.astype({"location": str, "code": str}))
    assert superseded == expected_superseded
    assert kept + superseded == sum(len(s) for s in sources)
    assert list(frame["location"].cat.categories) == sorted(set(expected["location"]))


@pytest.mark.parametrize("unit", [0.25, 1000.5, 0.1], ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("drops", [0, 2])
@pytest.mark.parametrize("history_rows", [6000, 900], ids=["dense days", "sparse days"])
@pytest.mark.parametrize("days", [3, 60])
@pytest.mark.parametrize("dense_cells", [demand_totals._DENSE_CELLS, 0], ids=["count", "group"])
def test_order_lines_and_priorities_give_the_reference_totals(
    monkeypatch, history_rows, days, dense_cells, drops, unit
):
    """Blocks summed by counting or only grouped by day; days placed by rank or sorted; one
    source, or drops over the history."""
    monkeypatch.setattr(demand_totals, "_DENSE_CELLS", dense_cells)
    rng = np.random.default_rng(5)
    history = rows(rng, history_rows, days, priority=0, unit=unit)  # many order lines per key
    sources = [history, *(rows(rng, 400, days, priority=p, unit=unit) for p in (7, 9)[:drops])]
    check(fed(sources, block_rows=300), sources)


def test_a_day_with_more_totals_than_series_is_merged_while_blocks_come(monkeypatch):
    monkeypatch.setattr(demand_totals, "_DENSE_CELLS", 0)  # blocks only grouped by day
    monkeypatch.setattr(demand_totals, "_COMPACT_MIN", 0)
    rng = np.random.default_rng(11)
    history = rows(rng, 20_000, 60, priority=0)  # 60 days x 120 series, ~3 lines per key
    drop = rows(rng, 2_000, 60, priority=3)

    totals = fed([history, drop], block_rows=500)

    series = len(LOCATIONS) * len(CODES)
    for pieces in totals._days.values():
        # merged per priority: never more than twice the series, plus one block's worth
        assert sum(len(p.series) for p in pieces) <= 2 * series + 500
        assert len({p.priority for p in pieces}) <= 2
    check(totals, [history, drop])


@pytest.mark.parametrize(
    "in_order", [False, True], ids=["rows in no order", "rows by day and series: nothing to sum"]
)
def test_every_series_on_every_day_is_placed_without_duplicates(in_order):
    """The dense case of a full daily history (each day holds every series once), its rows in
    no order, or by day with the series in the same order every day (as an export sorted by
    date and item: a block's rows are then taken as its totals)."""
    grid = pd.MultiIndex.from_product(
        [range(30), LOCATIONS, CODES], names=["day", "location", "code"]
    )
    history = grid.to_frame(index=False)
    if not in_order:
        history = history.sample(frac=1, random_state=3)
    history["priority"] = 0
    history["quantity"] = np.arange(len(history)) % 11 / 2

    check(fed([history], block_rows=1000), [history])


@pytest.mark.parametrize("dense_pairs", [demand_totals._DENSE_PAIRS, 0], ids=["table", "hash"])
@pytest.mark.parametrize("order", ["date", "item"])
def test_an_export_sorted_by_date_or_item_keeps_day_totals_as_id_runs(
    monkeypatch, order, dense_pairs
):
    """Series are numbered in the order rows first show them, so in an export sorted by date,
    or by item and location, each day of a block is a run of consecutive series ids: held as a
    range, its sums in 2 bytes each when they are exact in float16. Neither the locations nor
    the codes come in text order, so the numbering is not the codes' order."""
    monkeypatch.setattr(demand_totals, "_DENSE_PAIRS", dense_pairs)
    grid = pd.MultiIndex.from_product(
        [range(30), LOCATIONS, CODES], names=["day", "location", "code"]
    ).to_frame(index=False)
    by = ["day", "code", "location"] if order == "date" else ["code", "location", "day"]
    grid = grid.sort_values(by, kind="stable")  # within a day, not in (location, code) order
    grid["priority"] = 0
    grid["quantity"] = np.arange(len(grid)) % 11 / 2

    totals = fed([grid], block_rows=1000)

    pieces = [p for day in totals._days.values() for p in day]
    assert all(isinstance(p.series, range) for p in pieces)
    assert all(p.sums.dtype == np.float16 for p in pieces)
    check(totals, [grid])
