"""The daily schedule: every morning, sync the business day that ended at midnight, but only when
that run can do its job. A day the business calendar expects no drop for is skipped with the
reason; a drop not complete yet is skipped too: the drop sensor starts the sync when it is.

Not `build_schedule_from_partitioned_job`: it runs the job's *last* partition, and because
`business_days` has `end_offset=1` (today's partition exists before midnight) that is today's,
whose drop has not arrived yet. This schedule asks for yesterday's explicitly.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.defs import settings
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.jobs import daily_sync
from pipelines.defs.partitions import business_days


def previous_day(at: dt.datetime, timezone: str) -> dt.date:
    """The day before `at`, on the calendar of the partitions' timezone."""
    return at.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def morning_request(day: dt.date, erp: ErpExportsResource) -> dg.RunRequest | dg.SkipReason:
    """The run for `day`'s drop, or why there is none to launch now."""
    key = day.isoformat()
    if not business_days.has_partition_key(key):
        return dg.SkipReason(
            f"{key} is not a business-day partition (partitions start "
            f"{business_days.start.date().isoformat()})"
        )
    calendar = settings.business_calendar()
    if not calendar.expects_drop(day):
        return dg.SkipReason(
            f"no drop expected: {calendar.why_no_drop(day)}; the next send catches up"
        )
    why = erp.drop_not_ready(day)
    if why is not None:
        return dg.SkipReason(
            f"not launched: {why}. The erp_drop_sensor starts the sync when the drop is "
            f"complete; an alert goes out if it is still missing at "
            f"{settings.DEADLINE_HOUR:02d}:00"
        )
    return dg.RunRequest(run_key=key, partition_key=key)


@dg.schedule(
    name="daily_sync_schedule",
    job=daily_sync,
    cron_schedule=f"{settings.SCHEDULE_MINUTE} {settings.SCHEDULE_HOUR} * * *",
    execution_timezone=business_days.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=(
        f"Runs daily_sync for the previous day at "
        f"{settings.SCHEDULE_HOUR:02d}:{settings.SCHEDULE_MINUTE:02d} {business_days.timezone} "
        "when the business calendar expects its drop and the drop is complete; otherwise skips "
        "with the reason (the drop sensor starts a late drop's sync)."
    ),
)
def daily_sync_schedule(
    context: dg.ScheduleEvaluationContext, erp: ErpExportsResource
) -> dg.RunRequest | dg.SkipReason:
    at = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    return morning_request(previous_day(at, business_days.timezone), erp)
