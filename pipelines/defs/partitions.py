"""Business days: every daily asset shares one partitions definition."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.defs import settings

business_days = dg.DailyPartitionsDefinition(
    start_date=settings.PARTITIONS_START.isoformat(),
    timezone=settings.TIMEZONE,
    end_offset=1,  # today's drop may arrive before midnight; let its partition exist
)


def partition_days(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last business day (inclusive) of this run, for single days and range runs."""
    window = context.partition_time_window
    last = (window.end - dt.timedelta(days=1)).date()
    return window.start.date(), last


def range_label(first: dt.date, last: dt.date) -> str:
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


# Every asset runs a range of days in ONE run: a UI backfill of daily_sync over a month is one
# run that behaves like a catch-up (one send per endpoint), never a run per day that each sends.
DAILY_BACKFILL_POLICY = dg.BackfillPolicy.single_run()


def daily_asset(group: str, **kinds_pool_and_more: object) -> dict:
    """What every asset of the sync shares: business-day partitions, ranges in one run, the
    owners and its group; the rest (kinds, pool, deps, description) is its own."""
    return {
        "group_name": group,
        "owners": settings.OWNERS,
        "partitions_def": business_days,
        "backfill_policy": DAILY_BACKFILL_POLICY,
        **kinds_pool_and_more,
    }
