"""Where the sync's "now" comes from: the system clock, or a fixed moment for drills
(`SYNC_NOW=2026-11-23T05:00:00+00:00`) so a person can rehearse what the ledger would decide on
another day. Tests move the whole process's clock with time-machine instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fixed_clock(moment: str) -> Clock:
    """A clock stopped at `moment` (ISO-8601; a naive one is UTC)."""
    try:
        at = dt.datetime.fromisoformat(moment)
    except ValueError:
        raise ValueError(f"SYNC_NOW={moment!r} is not an ISO-8601 date and time") from None
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return lambda: at


def sync_clock(override: str | None) -> Clock:
    """The clock the ledger and the automation use: `override` (SYNC_NOW) when set."""
    return fixed_clock(override) if override else system_clock
