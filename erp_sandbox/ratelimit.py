"""Pixee's rate limiting: a sliding 60 s window per API key per bucket (read, write, bulk).

Only accepted requests enter the window, so a client that backs off when told recovers once
the oldest accepted request leaves it."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from erp_sandbox.clock import Clock


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    # Unix seconds when the oldest request in the window leaves it (a slot frees up).
    reset_at: int
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_s)
        return headers


class SlidingWindowLimiter:
    def __init__(self, limits: Mapping[str, int], clock: Clock, window_s: float = 60.0) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._window_s = window_s
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, bucket: str) -> RateDecision:
        limit = self._limits[bucket]
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault((key, bucket), deque())
            while hits and hits[0] <= now - self._window_s:
                hits.popleft()
            if len(hits) >= limit:
                frees_at = hits[0] + self._window_s
                return RateDecision(
                    allowed=False,
                    limit=limit,
                    remaining=0,
                    reset_at=math.ceil(frees_at),
                    retry_after_s=max(1, math.ceil(frees_at - now)),
                )
            hits.append(now)
            return RateDecision(
                allowed=True,
                limit=limit,
                remaining=limit - len(hits),
                reset_at=math.ceil(hits[0] + self._window_s),
                retry_after_s=0,
            )

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
