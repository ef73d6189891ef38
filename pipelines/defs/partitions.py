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


BACKFILL_JOB = "demand_backfill"
DEMAND_ASSETS = frozenset({"erp_demand", "paqtana_historical_demand"})


def is_demand_backfill(context: dg.AssetExecutionContext) -> bool:
    """The initial-load exception belongs to the demand history backfill only: the
    `demand_backfill` job, or the demand assets selected alone over a range of days. A run of
    daily_sync is never one, whatever tags it carries."""
    if context.run.job_name == BACKFILL_JOB:
        return True
    first, last = partition_days(context)
    if first == last:
        return False
    # What this run materializes: its explicit selection, else every asset of its job.
    selection = context.run.asset_selection or context.job_def.asset_layer.executable_asset_keys
    return {key.to_user_string() for key in selection} <= DEMAND_ASSETS


def demand_window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The days a run's demand covers: a backfill, exactly its range; any other run, the
    DEMAND_CATCHUP_DAYS ending at its (last) day, so its send carries every day not yet
    accepted (a missed day, a late drop, a correction inside a newer drop)."""
    first, last = partition_days(context)
    if is_demand_backfill(context):
        return first, last
    return min(first, last - dt.timedelta(days=settings.DEMAND_CATCHUP_DAYS - 1)), last


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
