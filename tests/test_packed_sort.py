"""The packed sort gives numpy's stable argsort, whether key and position fit in 63 bits or not."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.core.packed_sort import run_starts, sorted_with_order


@pytest.mark.parametrize("top", [50, 2**40, 2**62], ids=["small", "packed", "argsort"])
def test_sorted_with_order_is_the_stable_argsort(top: int) -> None:
    keys = np.random.default_rng(1).integers(0, top, 100_000, dtype=np.int64)
    keys[::7] = keys[3]  # many equal keys: their input order must be kept

    ordered, order = sorted_with_order(keys)

    expected = np.argsort(keys, kind="stable")
    assert np.array_equal(order, expected)
    assert np.array_equal(ordered, keys[expected])


def test_negative_keys_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        sorted_with_order(np.array([3, -1]))


def test_run_starts() -> None:
    assert run_starts(np.array([1, 1, 2, 5, 5, 5])).tolist() == [0, 2, 3]
    assert run_starts(np.array([], dtype=np.int64)).tolist() == []
