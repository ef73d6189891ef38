"""Fault rules: what the next N matching requests suffer instead of a normal answer.

A rule matches on vendor, method and a path substring (each optional) and is armed for `times`
requests, then expires. Kinds:
- status: answer `status` (default 503) in the vendor's error shape, with Retry-After when given.
- slow: wait `delay_s` (or until the client gives up), then answer `status` (default 504).
- drop: start a response with a Content-Length larger than the body, then close the connection.
- malformed: 200 with a body that is not JSON.
- partial_batch: Pixee batch only; the listed `eans` and/or the `first` K items fail with
  `message`, the rest are applied.
- expire_tokens: PXM only; every issued token becomes invalid, then the request runs normally.
Only partial_batch changes state; every other faulted request leaves state untouched.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

VENDORS = ("paqtana", "pixee", "pxm")
FAULT_KINDS = ("status", "slow", "drop", "malformed", "partial_batch", "expire_tokens")
# Kinds that let the request reach the vendor handler (the others answer in its place).
PASS_THROUGH_KINDS = frozenset({"partial_batch", "expire_tokens"})
DEFAULT_STATUS = {"status": 503, "slow": 504}


@dataclass(frozen=True)
class FaultRule:
    kind: str
    vendor: str | None = None
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int | None = None
    retry_after: float | None = None
    delay_s: float = 5.0
    message: str = "injected failure"
    eans: tuple[str, ...] = ()
    first: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.vendor is not None and self.vendor not in VENDORS:
            raise ValueError(f"unknown vendor {self.vendor!r}; expected one of {VENDORS}")
        if self.times < 1:
            raise ValueError("times must be at least 1")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")
        if self.delay_s < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("delay_s and retry_after must not be negative")
        if self.kind == "partial_batch":
            if self.vendor not in (None, "pixee"):
                raise ValueError("partial_batch applies to the Pixee batch endpoint only")
            if not self.eans and self.first < 1:
                raise ValueError("partial_batch needs eans or first >= 1")
        if self.kind == "expire_tokens" and self.vendor not in (None, "pxm"):
            raise ValueError("expire_tokens applies to PXM only")
        # A JSON list arrives as a list; keep the rule hashable and immutable.
        object.__setattr__(self, "eans", tuple(str(e) for e in self.eans))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault rule fields: {unknown}")
        if "kind" not in data:
            raise ValueError("a fault rule needs a kind")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["eans"] = list(self.eans)
        return data

    @property
    def answer_status(self) -> int:
        return self.status or DEFAULT_STATUS.get(self.kind, 503)

    def matches(self, vendor: str, method: str, path: str) -> bool:
        if self.kind == "partial_batch" and not (
            vendor == "pixee" and method == "POST" and path.rstrip("/").endswith("/products/batch")
        ):
            return False
        if self.kind == "expire_tokens" and vendor != "pxm":
            return False
        if self.vendor is not None and self.vendor != vendor:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or self.path in path


@dataclass
class _ArmedRule:
    rule: FaultRule
    remaining: int
    fired: int = field(default=0)


class FaultBook:
    """The armed rules, first match wins. Shared by the server threads and the test thread."""

    def __init__(self, rules: list[FaultRule] | tuple[FaultRule, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._armed: list[_ArmedRule] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._armed.append(_ArmedRule(rule, rule.times))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def take(self, vendor: str, method: str, path: str) -> FaultRule | None:
        """The rule this request suffers, spending one of its `times`; None for a normal answer."""
        with self._lock:
            for armed in self._armed:
                if armed.rule.matches(vendor, method, path):
                    armed.remaining -= 1
                    armed.fired += 1
                    if armed.remaining == 0:
                        self._armed.remove(armed)
                    return armed.rule
        return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {**a.rule.to_dict(), "remaining": a.remaining, "fired": a.fired}
                for a in self._armed
            ]
