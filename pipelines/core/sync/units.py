"""What a send is made of, for any endpoint: units (one request each), the answer to one, the
plan of a send, and the safeguards judged before it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unit:
    """One request of a send: a demand chunk, a Pixee batch, the inventory PUT, a paged read.
    `key` identifies what is sent (the body's sha256), so a re-run knows a unit the vendor
    already accepted and does not send it again."""

    key: str
    payload: Any
    items: int  # rows, products or values it carries, for the figures
    label: str = ""


@dataclass
class UnitAnswer:
    """The vendor's answer to one unit it took: items it refused inside an accepted request
    (item key -> the vendor's reason), counts to report, and what a read returned."""

    refused: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    value: Any = None


@dataclass(frozen=True)
class Safeguard:
    """A rule judged before anything is sent (a removed share, an emptied workspace). A failed
    safeguard stops the send unless the run forces this endpoint with a reason."""

    name: str
    passed: bool
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendPlan:
    """What a send would carry, already diffed against what the vendor last accepted."""

    units: list[Unit]
    payload_hash: str | None = None
    # Why there is nothing to send, when `units` is empty (the vendor already holds it all).
    nothing_to_send: str = "nothing new to send"
    safeguards: list[Safeguard] = field(default_factory=list)
    # A snapshot the ERP has already replaced with a newer complete drop: not sent, forced or
    # not (only a person's `older_snapshot` choice sends it).
    superseded: str | None = None

    @property
    def items(self) -> int:
        return sum(u.items for u in self.units)


def sha256_of(parts: Iterable[str | bytes]) -> str:
    """One digest over several unit keys or bodies (a send's payload hash)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()
