"""ordered_map keeps input order and stays a bounded number of items ahead of its caller."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.core.ordered_pool import ordered_map


def test_results_come_in_input_order_however_long_each_takes() -> None:
    def slow_for_small(n: int) -> int:
        time.sleep(0.001 * (10 - n))
        return n * n

    assert list(ordered_map(slow_for_small, range(10))) == [n * n for n in range(10)]


def test_work_stays_a_few_items_ahead_of_the_caller() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            started.append(n)
        return n

    results = ordered_map(record, range(100), workers=2)
    first = next(results)
    time.sleep(0.05)
    assert first == 0
    assert len(started) <= 4  # the one taken, two running, one more submitted
    assert list(results) == list(range(1, 100))


def test_an_error_reaches_the_caller_in_order() -> None:
    def fail_on_three(n: int) -> int:
        if n == 3:
            raise ValueError("three")
        return n

    results = ordered_map(fail_on_three, range(6))
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="three"):
        next(results)
