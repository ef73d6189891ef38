"""The daily schedule: every morning, sync the business day that ended at midnight.

Not `build_schedule_from_partitioned_job`: it runs the job's *last* partition, and because
`business_days` has `end_offset=1` (today's partition exists before midnight) that is today's,
whose drop has not arrived yet. This schedule asks for yesterday's explicitly.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs import settings
from pipelines.defs.jobs import daily_sync
from pipelines.defs.partitions import business_days


def previous_business_day(at: dt.datetime, timezone: str) -> dt.date:
    """The day before `at`, on the calendar of the partitions' timezone."""
    return at.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


@dg.schedule(
    name="daily_sync_schedule",
    job=daily_sync,
    cron_schedule=f"{settings.SCHEDULE_MINUTE} {settings.SCHEDULE_HOUR} * * *",
    execution_timezone=business_days.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Runs daily_sync for the previous business day at "
        f"{settings.SCHEDULE_HOUR:02d}:{settings.SCHEDULE_MINUTE:02d} {business_days.timezone}."
    ),
)
def daily_sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    at = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = previous_business_day(at, business_days.timezone).isoformat()
    if not business_days.has_partition_key(day):
        return dg.SkipReason(
            f"{day} is not a business-day partition (partitions start "
            f"{business_days.start.date().isoformat()})"
        )
    return dg.RunRequest(run_key=day, partition_key=day)
