"""Time for the sandbox: one injectable clock (unix seconds) so tests move time instead of
sleeping, and the ISO-8601 forms the vendors write."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


class ManualClock:
    """A clock that only moves when told to; thread-safe, as the server reads it from its
    threadpool while the test advances it."""

    def __init__(self, start: float = 1_781_863_200.0) -> None:  # 2026-06-19T10:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, unix_seconds: float) -> None:
        with self._lock:
            self._now = unix_seconds


def iso_z(unix_seconds: float) -> str:
    """`2026-06-19T10:00:00Z`: the second-precision UTC form the Pixee examples show."""
    return datetime.fromtimestamp(int(unix_seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z_ms(unix_seconds: float) -> str:
    """Millisecond form for the request log, where ordering within a second matters."""
    moment = datetime.fromtimestamp(unix_seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_datetime(text: str) -> datetime | None:
    """An ISO-8601 datetime as aware UTC (a naive one is taken as UTC); None when unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
