"""Which PXM catalog the Pixee enrichment may use: PXM only fills gaps the ERP left, so a failed
or skipped PXM read never stops the Pixee sync.

The rule, in one place: the local cache is written only by a successful read, so it is always
the last good read. Enrichment uses it while it is younger than PXM_CACHE_MAX_AGE_DAYS (default
7); an older one is not used (the Pixee sync goes out without enrichment, and says so). Either
way a cache not read today is worth a warning that names its age.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.core.pxm.cache import CacheMeta

NO_CACHE = "none: no PXM cache yet"


@dataclass(frozen=True)
class CacheChoice:
    use: bool
    read_today: bool  # the cache is today's read (calendar day of `now`)
    age_days: float | None
    why: str  # what the enrichment is, as a person reads it

    @property
    def stale(self) -> bool:
        """Worth a warning: enrichment from an older read, or none at all."""
        return not self.read_today


def choose_cache(meta: CacheMeta | None, now: dt.datetime, max_age_days: float) -> CacheChoice:
    """`meta` is the cache's (None: no cache); `now` is aware, in the sync's timezone."""
    if meta is None:
        return CacheChoice(False, False, None, NO_CACHE)
    read_at = meta.read_at if meta.read_at.tzinfo else meta.read_at.replace(tzinfo=dt.UTC)
    age = max((now - read_at).total_seconds() / 86_400, 0.0)
    today = read_at.astimezone(now.tzinfo).date() == now.date()
    at = f"PXM cache read at {read_at.isoformat(timespec='seconds')}"
    if today:
        return CacheChoice(True, True, age, f"{at} (today's read)")
    if age <= max_age_days:
        return CacheChoice(
            True,
            False,
            age,
            f"{at}, {age:.1f} days old: today's PXM read failed or did not run; enriched from "
            "the last good read",
        )
    return CacheChoice(
        False,
        False,
        age,
        f"none: the {at} is {age:.1f} days old, past PXM_CACHE_MAX_AGE_DAYS={max_age_days:g}; "
        "synced without PXM enrichment",
    )
