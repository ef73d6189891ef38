"""The demand builder's own paths: rows it must refuse (each with its reason, the rest still
sent), dates already in order (worked out per distinct date) or not, and the frame let go once
it is encoded when the caller hands over its only reference."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import orjson
import pandas as pd
import pytest

from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana import demand_text
from pipelines.core.paqtana.demand import build_historical_demand_chunks

WORKSPACES = WorkspaceMapping({"L9": "WS-NINE"}, default="WS-MAIN")


def daily_totals(series: int = 300, days: int = 40, seed: int = 2) -> pd.DataFrame:
    """Daily totals sorted by (date, location, code) with text-ordered categories, as the
    extract writes them."""
    rng = np.random.default_rng(seed)
    grid = pd.MultiIndex.from_product(
        [
            pd.date_range("2025-03-01", periods=days, freq="D"),
            [f"L{i}" for i in range(10)],
            [f"C-{i:03d}" for i in range(series // 10)],
        ],
        names=["date", "location", "code"],
    ).to_frame(index=False)
    grid = grid[rng.random(len(grid)) < 0.8].reset_index(drop=True)
    grid["quantity"] = np.round(rng.exponential(5, len(grid)), 1)
    for name in ("location", "code"):
        grid[name] = pd.Categorical(grid[name], categories=sorted(grid[name].unique()))
    return grid


def sent_rows(bodies: list[bytes]) -> pd.DataFrame:
    objects = [obj for body in bodies for obj in orjson.loads(body)["data"]]
    counts = [len(obj["dates"]) for obj in objects]
    return pd.DataFrame(
        {
            "date": pd.to_datetime([d for obj in objects for d in obj["dates"]]),
            "location": np.repeat([obj["location"] for obj in objects], counts),
            "code": np.repeat([obj["code"] for obj in objects], counts),
            "quantity": [float(q) for obj in objects for q in obj["quantities"]],
        }
    )


def in_order(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({"location": str, "code": str, "date": "datetime64[ns]"})
    return out.sort_values(["location", "code", "date"]).reset_index(drop=True)


def test_refused_rows_are_named_and_every_other_row_is_sent() -> None:
    demand = daily_totals().astype({"location": object, "code": object})
    faults = {
        3: ("date", pd.NaT, "date is missing"),
        10: ("location", None, "location is missing"),
        20: ("code", None, "code is missing"),
        30: ("quantity", -1.0, "quantity must be a finite number >= 0"),
        40: ("quantity", np.inf, "quantity must be a finite number >= 0"),
    }
    for row, (column, value, _) in faults.items():
        demand.loc[row, column] = value
    demand.loc[50:52, "location"] = "L-UNMAPPED"
    no_default = WorkspaceMapping({f"L{i}": "WS" for i in range(10)})

    result = build_historical_demand_chunks(demand, no_default, cap_bytes=50_000)

    reasons = dict(
        zip(
            result.rejects["field"] + ":" + result.rejects["value"],
            result.rejects["reason"],
            strict=True,
        )
    )
    assert len(result.rejects) == len(faults) + 3
    assert reasons["quantity:-1.0"] == reasons["quantity:inf"] == faults[30][2]
    assert {reasons["date:"], reasons["location:"], reasons["code:"]} == {
        "date is missing",
        "location is missing",
        "code is missing",
    }
    assert reasons["location:L-UNMAPPED"] == (
        "location 'L-UNMAPPED' has no workspaceCode mapping and no default"
    )
    sendable = demand.drop(index=[*faults, 50, 51, 52])
    pd.testing.assert_frame_equal(in_order(sent_rows(result.bodies)), in_order(sendable))
    assert all(len(body) <= 50_000 for body in result.bodies)


def test_dates_in_order_or_not_give_the_same_bodies() -> None:
    ordered = daily_totals()
    shuffled = ordered.sample(frac=1, random_state=4).astype({"date": "datetime64[s]"})

    first = build_historical_demand_chunks(ordered, WORKSPACES, cap_bytes=40_000)
    second = build_historical_demand_chunks(shuffled, WORKSPACES, cap_bytes=40_000)

    assert first.bodies == second.bodies
    assert len(first.bodies) > 3
    pd.testing.assert_frame_equal(in_order(sent_rows(first.bodies)), in_order(ordered))


@pytest.mark.parametrize(
    "quantities",
    ["repeated", "distinct"],
    ids=["repeated: codes carried in the sort keys", "distinct: each row's own value"],
)
def test_every_row_is_sent_with_its_own_quantity(quantities: str) -> None:
    demand = daily_totals(seed=7).sample(frac=1, random_state=5).reset_index(drop=True)
    rng = np.random.default_rng(8)
    if quantities == "distinct":  # most values distinct: formatted per row, not encoded
        demand["quantity"] = np.round(rng.random(len(demand)) * 1e6, 3)
        assert demand["quantity"].nunique() * 4 > len(demand)
    else:
        demand["quantity"] = rng.integers(0, 300, len(demand)).astype(float)

    result = build_historical_demand_chunks(demand, WORKSPACES, cap_bytes=30_000)

    assert len(result.bodies) > 3
    pd.testing.assert_frame_equal(in_order(sent_rows(result.bodies)), in_order(demand))


@pytest.mark.parametrize("shuffle", [False, True], ids=["dates in order", "dates not in order"])
def test_a_time_of_day_is_refused_on_either_path(shuffle: bool) -> None:
    demand = daily_totals()
    demand.loc[len(demand) - 1, "date"] += pd.Timedelta(hours=6)
    if shuffle:
        demand = demand.sample(frac=1, random_state=1)

    with pytest.raises(ValueError, match="1 demand dates are not at midnight"):
        build_historical_demand_chunks(demand, WORKSPACES)


def test_a_handed_over_frame_is_let_go_before_the_bodies_are_built(monkeypatch) -> None:
    alive_while_packing = []
    pack = demand_text.BodyPacker.add

    def add(packer, objects):
        gc.collect()
        alive_while_packing.append(frame_ref() is not None)
        return pack(packer, objects)

    monkeypatch.setattr(demand_text.BodyPacker, "add", add)
    frames = [daily_totals()]
    frame_ref = weakref.ref(frames[0])

    result = build_historical_demand_chunks(frames.pop(), WORKSPACES, rows_per_build=2_000)

    assert len(alive_while_packing) > 1
    assert not any(alive_while_packing)
    assert result.values > 0
