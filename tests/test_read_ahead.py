"""read_ahead: the same items in the same order, the producer's error in its place, bounded
work ahead, and a producer stopped (and closed) when the caller stops early."""

from __future__ import annotations

import threading
import time

import pytest

from pipelines.core.read_ahead import read_ahead


def test_items_come_in_order_and_the_producer_runs_on_another_thread() -> None:
    threads: set[str] = set()

    def numbers():
        for i in range(1000):
            threads.add(threading.current_thread().name)
            yield i

    assert list(read_ahead(numbers(), depth=3)) == list(range(1000))
    assert threads == {"read-ahead"}


def test_the_producers_error_comes_after_the_items_before_it() -> None:
    def failing():
        yield 1
        yield 2
        raise ValueError("line 3: broken")

    got = []
    with pytest.raises(ValueError, match="line 3: broken"):
        for item in read_ahead(failing()):
            got.append(item)
    assert got == [1, 2]


def test_the_producer_works_at_most_depth_items_ahead() -> None:
    produced = []

    def counted():
        for i in range(100):
            produced.append(i)
            yield i

    items = read_ahead(counted(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # ample time for the producer to run ahead if it could
    # the item handed over, `depth` waiting, and one in the producer's hand
    assert len(produced) <= 1 + 2 + 1
    items.close()


def test_a_caller_that_stops_early_stops_and_closes_the_producer() -> None:
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    for item in read_ahead(endless(), depth=2):
        if item == 5:
            break
    assert closed.is_set(), "the producer's generator was not closed"
    assert threading.active_count() == before, "the worker thread is still running"
