"""Demand rows split into groups and sorted per group: every sendable row lands in its code's
group once, refused rows in none, and each group sorts by (location, code, day) with its own
quantities, whether the quantity codes ride in the keys, the keys carry row positions, or the
keys are too wide for either and the group is ordered by a stable argsort."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.core.paqtana.demand_rows import KeyLayout, group_rows

ROWS = 5_000


@pytest.mark.parametrize(
    ("days", "distinct_quantities"),
    [(60, 40), (60, None), (2**40, None)],
    ids=["codes in the keys", "positions in the keys", "stable argsort"],
)
@pytest.mark.parametrize("groups", [1, 3])
def test_each_group_holds_its_rows_in_series_and_day_order(
    days: int, distinct_quantities: int | None, groups: int
) -> None:
    rng = np.random.default_rng(groups)
    locations, codes = 7, 300
    # One row per (location, code, day), as the daily totals are, in no order.
    cell = rng.choice(locations * codes * 60, size=ROWS, replace=False)
    loc_rank = (cell // (codes * 60)).astype(np.int8)
    code_rank = (cell // 60 % codes).astype(np.int16)
    day = (cell % 60).astype(np.int64)
    day[day == 59] = days - 1  # the widest offset the layout allows
    if distinct_quantities is None:
        quantity = rng.random(ROWS) * 1e6
    else:
        quantity = rng.integers(0, distinct_quantities, ROWS).astype(np.int8)
    code_group = np.append(rng.integers(0, groups, codes), 0)
    refused = rng.random(ROWS) < 0.1
    layout = KeyLayout(groups, locations, codes, first_day=0, days=days)

    parts = group_rows(
        layout, loc_rank, code_rank, day, code_group, refused, quantity, distinct_quantities
    )

    assert len(parts) == groups
    for group, part in enumerate(parts):
        mine = np.flatnonzero((code_group[code_rank] == group) & ~refused)
        keys = (loc_rank[mine].astype(np.int64) << layout.code_bits | code_rank[mine]) << (
            layout.day_bits
        ) | day[mine]
        order = np.argsort(keys)
        rows = part.sorted()
        np.testing.assert_array_equal(rows.keys, keys[order])
        np.testing.assert_array_equal(rows.quantity, quantity[mine][order])
        assert rows.quantity.dtype == quantity.dtype


def test_keys_too_wide_for_64_bits_are_refused() -> None:
    layout = KeyLayout(1, locations=2**20, codes=2**20, first_day=0, days=2**30)
    empty = np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError, match="to be ordered by one 64-bit key"):
        group_rows(layout, empty, empty, empty, np.zeros(1, np.int64), None, empty, None)
