"""Seconds per named stage of a run (read, validate, sum per day, ...), so a benchmark can show
where the time goes without a profiler. Off unless a caller opens `recording()`: then every
`stage(name)` block adds its wall seconds to that name, from any thread (stages that run on
several threads at once add up to more than the wall time they took)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_seconds: dict[str, float] | None = None


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record stages until the block ends; yields the seconds per stage (filled as it runs)."""
    global _seconds
    seconds: dict[str, float] = {}
    with _lock:
        if _seconds is not None:
            raise RuntimeError("stage recording is already on")
        _seconds = seconds
    try:
        yield seconds
    finally:
        with _lock:
            _seconds = None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as `name` when recording is on (a no-op otherwise)."""
    if _seconds is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        add(name, time.perf_counter() - started)


def add(name: str, seconds: float) -> None:
    """Add seconds measured elsewhere (e.g. time spent waiting on another thread)."""
    with _lock:
        if _seconds is not None:
            _seconds[name] = _seconds.get(name, 0.0) + seconds


def waits(name: str, items: Iterable[T]) -> Iterator[T]:
    """`items`, with the time spent waiting for each next one added to `name` (for a producer
    on another thread, the part of its work the caller did not overlap)."""
    iterator = iter(items)
    while True:
        started = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            add(name, time.perf_counter() - started)
            return
        add(name, time.perf_counter() - started)
        yield item
