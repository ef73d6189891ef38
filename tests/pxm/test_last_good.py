"""Which PXM cache the Pixee enrichment uses: today's read, an older good read within
PXM_CACHE_MAX_AGE_DAYS (with its age), or none past it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pipelines.core.pxm.cache import CacheMeta
from pipelines.core.pxm.last_good import NO_CACHE, choose_cache

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 11, 22, 5, 0, tzinfo=PARIS)


def read_at(at: dt.datetime) -> CacheMeta:
    return CacheMeta(at, 1, 1, 1, {}, 1, 0.1)


def test_todays_read_is_used_without_a_warning():
    choice = choose_cache(read_at(dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)), NOW, 7)
    assert (choice.use, choice.read_today, choice.stale) == (True, True, False)
    assert choice.why.endswith("(today's read)")


def test_a_read_before_midnight_in_the_sync_timezone_is_yesterdays():
    late = read_at(dt.datetime(2026, 11, 21, 22, 30, tzinfo=dt.UTC))  # 23:30 in Paris
    choice = choose_cache(late, NOW, 7)
    assert (choice.use, choice.read_today) == (True, False)
    assert "0.2 days old: today's PXM read failed or did not run" in choice.why


def test_past_the_age_limit_the_payload_goes_without_enrichment():
    old = read_at(NOW - dt.timedelta(days=7, hours=1))
    choice = choose_cache(old, NOW, 7)
    assert not choice.use and choice.stale
    assert choice.why.endswith(
        "is 7.0 days old, past PXM_CACHE_MAX_AGE_DAYS=7; synced without PXM enrichment"
    )
    assert choose_cache(read_at(NOW - dt.timedelta(days=6)), NOW, 7).use
    assert choose_cache(None, NOW, 7).why == NO_CACHE
