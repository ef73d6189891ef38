"""Chunking of a large demand frame under a small cap: every body fits (measured), every series
is in exactly one body unless it alone is too big, and the bodies together are the input."""

from __future__ import annotations

import hashlib

import numpy as np
import orjson
import pandas as pd
import pytest

from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana.contract import PayloadTooLargeError
from pipelines.core.paqtana.demand import build_historical_demand_chunks

CAP = 256 * 1024
WORKSPACES = WorkspaceMapping({"LOC-07": "WS-SEVEN"}, default="WS-DEFAULT")


def large_demand(series: int = 2_000, days: int = 150, seed: int = 3) -> pd.DataFrame:
    """~200k sparse daily totals: integral and fractional quantities, codes as a category."""
    rng = np.random.default_rng(seed)
    locations = np.array([f"LOC-{i:02d}" for i in range(10)])
    codes = np.array([f"SKU-{i:05d}" for i in range(series // 10)])
    calendar = pd.date_range("2023-01-01", periods=days, freq="D").to_numpy()
    series_location = np.repeat(locations, len(codes))
    series_code = np.tile(codes, len(locations))
    rows = series * days
    frame = pd.DataFrame(
        {
            "date": np.tile(calendar, series),
            "location": np.repeat(series_location, days),
            "code": np.repeat(series_code, days),
            "quantity": np.where(
                rng.random(rows) < 0.7,
                np.floor(rng.exponential(8, rows)),
                np.round(rng.exponential(8, rows), 3),
            ),
        }
    )
    frame = frame[rng.random(rows) < 0.67].sample(frac=1, random_state=seed)
    frame["code"] = frame["code"].astype("category")
    return frame.reset_index(drop=True)


def sent_objects(bodies: list[bytes]) -> list[tuple[int, dict]]:
    return [(i, obj) for i, body in enumerate(bodies) for obj in orjson.loads(body)["data"]]


def as_rows(objects: list[tuple[int, dict]]) -> pd.DataFrame:
    """The (date, location, code, quantity) rows the bodies carry."""
    counts = [len(obj["dates"]) for _, obj in objects]
    return pd.DataFrame(
        {
            "date": pd.to_datetime([d for _, obj in objects for d in obj["dates"]]),
            "location": np.repeat([obj["location"] for _, obj in objects], counts),
            "code": np.repeat([obj["code"] for _, obj in objects], counts),
            "quantity": [q for _, obj in objects for q in obj["quantities"]],
        }
    )


def sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype({"code": str, "quantity": "float64", "date": "datetime64[ns]"})
    return out.sort_values(["location", "code", "date"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def demand() -> pd.DataFrame:
    return large_demand()


@pytest.fixture(scope="module")
def chunked(demand: pd.DataFrame):
    return build_historical_demand_chunks(demand, WORKSPACES, cap_bytes=CAP)


def test_every_body_fits_the_cap_measured_in_bytes(demand: pd.DataFrame, chunked) -> None:
    assert len(demand) > 190_000
    assert len(chunked.chunks) > 10
    for chunk in chunked.chunks:
        assert len(chunk.body) <= CAP
        assert chunk.size_bytes == len(chunk.body)
        assert chunk.sha256 == hashlib.sha256(chunk.body).hexdigest()


def test_bodies_are_packed_greedily(chunked) -> None:
    """A body is closed only when the next object would not fit in it."""
    for body, following in zip(chunked.bodies, chunked.bodies[1:], strict=False):
        next_object = orjson.dumps(orjson.loads(following)["data"][0])
        assert len(body) + 1 + len(next_object) > CAP


def test_each_series_is_in_exactly_one_body_in_location_code_order(chunked) -> None:
    objects = sent_objects(chunked.bodies)
    keys = [(obj["location"], obj["code"]) for _, obj in objects]

    assert len(keys) == len(set(keys)) == chunked.series == 2_000
    assert keys == sorted(keys)
    for _, obj in objects:
        assert obj["dates"] == sorted(obj["dates"])
        assert len(obj["dates"]) == len(obj["quantities"])
        expected = "WS-SEVEN" if obj["location"] == "LOC-07" else "WS-DEFAULT"
        assert obj["workspaceCode"] == expected
    per_chunk = [sum(1 for i, _ in objects if i == n) for n in range(len(chunked.chunks))]
    assert per_chunk == [c.series for c in chunked.chunks]
    values = [sum(len(o["dates"]) for i, o in objects if i == n) for n in range(len(per_chunk))]
    assert values == [c.values for c in chunked.chunks]


def test_union_of_bodies_is_the_input(demand: pd.DataFrame, chunked) -> None:
    sent = as_rows(sent_objects(chunked.bodies))

    pd.testing.assert_frame_equal(sorted_rows(sent), sorted_rows(demand))
    assert chunked.values == len(demand)
    assert chunked.rejects.empty


def test_same_input_in_another_order_gives_the_same_bodies_and_hashes(demand, chunked) -> None:
    again = build_historical_demand_chunks(
        demand.sample(frac=1, random_state=99), WORKSPACES, cap_bytes=CAP
    )

    assert [c.sha256 for c in again.chunks] == [c.sha256 for c in chunked.chunks]


def test_a_series_bigger_than_the_cap_is_split_by_date_and_still_fits() -> None:
    cap = 16 * 1024
    long_days = pd.date_range("2000-01-01", periods=3_000, freq="D")
    long_series = pd.DataFrame(
        {"date": long_days, "location": "LOC-01", "code": "SKU-LONG", "quantity": 1234.5}
    )
    small = large_demand(series=40, days=20)
    demand = pd.concat([small, long_series], ignore_index=True)

    result = build_historical_demand_chunks(demand, WORKSPACES, cap_bytes=cap)

    assert result.split_series == 1
    assert all(len(body) <= cap for body in result.bodies)
    objects = sent_objects(result.bodies)
    pieces = [obj for _, obj in objects if obj["code"] == "SKU-LONG"]
    assert len(pieces) == len({i for i, obj in objects if obj["code"] == "SKU-LONG"}) > 1
    joined_dates = [d for piece in pieces for d in piece["dates"]]
    assert joined_dates == [d.strftime("%Y-%m-%d") for d in long_days]
    others = [(obj["location"], obj["code"]) for _, obj in objects if obj["code"] != "SKU-LONG"]
    assert len(others) == len(set(others)) == 40
    sent = as_rows(objects)
    pd.testing.assert_frame_equal(sorted_rows(sent), sorted_rows(demand))


def test_a_single_day_that_cannot_fit_raises() -> None:
    demand = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-01-01"]),
            "location": ["L" * 200],
            "code": ["SKU-1"],
            "quantity": [1.0],
        }
    )

    with pytest.raises(PayloadTooLargeError, match="single day"):
        build_historical_demand_chunks(demand, WORKSPACES, cap_bytes=200)


def test_nothing_to_send_gives_no_bodies() -> None:
    demand = large_demand(series=10, days=5)

    result = build_historical_demand_chunks(demand, WorkspaceMapping({}))

    assert result.chunks == []
    assert len(result.rejects) == len(demand)


def test_build_in_groups_sends_the_same_rows_in_capped_bodies_of_whole_series(demand) -> None:
    bounded = build_historical_demand_chunks(
        demand, WORKSPACES, cap_bytes=CAP, rows_per_build=len(demand) // 4
    )
    assert all(len(body) <= CAP for body in bounded.bodies)
    objects = sent_objects(bounded.bodies)
    keys = [(obj["location"], obj["code"]) for _, obj in objects]
    assert len(keys) == len(set(keys)), "a series was split across bodies"
    pd.testing.assert_frame_equal(sorted_rows(as_rows(objects)), sorted_rows(demand))
    assert (bounded.values, bounded.series) == (len(demand), len(set(keys)))
    per_chunk = [sum(1 for i, _ in objects if i == n) for n in range(len(bounded.chunks))]
    assert per_chunk == [c.series for c in bounded.chunks]
    # Bodies are filled across groups: only the last one is closed before it is full.
    for body, following in zip(bounded.bodies, bounded.bodies[1:], strict=False):
        next_object = orjson.dumps(orjson.loads(following)["data"][0])
        assert len(body) + 1 + len(next_object) > CAP
    again = build_historical_demand_chunks(
        demand.sample(frac=1, random_state=1).astype({"code": str}),
        WORKSPACES,
        cap_bytes=CAP,
        rows_per_build=len(demand) // 4,
    )
    assert [c.sha256 for c in again.chunks] == [c.sha256 for c in bounded.chunks]
