"""Produce the next items of an iterator on a worker thread while the caller works on earlier ones.

For producers that release the GIL while they work (Arrow's CSV parser does): on two cores the
parse of the next block then costs almost no wall time. Memory stays bounded by `depth` items
waiting. Whatever the producer raises is raised to the caller, in order, after the items before
it; a caller that stops early (an exception, a `break`) stops the worker before returning, so
the producer's source can be closed safely right after.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL_S = 0.05


def read_ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """`items`, produced up to `depth` ahead on a daemon thread."""
    waiting: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Put `item` unless the caller has stopped; whether it was put."""
        while not stop.is_set():
            try:
                waiting.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            offer(_Raised(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:  # a generator stopped early releases what it holds, here
                close()
        offer(_END)

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = waiting.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()  # the producer finishes the item in hand, then sees `stop`


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
