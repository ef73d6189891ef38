"""The morning schedule runs the business day that just ended, not today's open partition."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from pipelines.defs.automation.schedules import daily_sync_schedule, previous_business_day
from pipelines.defs.partitions import business_days


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, at: dt.datetime):
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
    )
    return daily_sync_schedule.evaluate_tick(context)


def test_schedule_runs_at_five_in_the_partitions_timezone_and_is_on_by_default():
    assert daily_sync_schedule.cron_schedule == "0 5 * * *"
    assert daily_sync_schedule.execution_timezone == business_days.timezone
    assert daily_sync_schedule.job_name == "daily_sync"
    assert daily_sync_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_tick_at_five_requests_the_previous_day_partition(automation_defs, instance):
    result = tick(automation_defs, instance, dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC))
    assert [(r.run_key, r.partition_key) for r in result.run_requests] == [
        ("2026-11-21", "2026-11-21")
    ]
    assert result.run_requests[0].tags["dagster/partition"] == "2026-11-21"


def test_tick_on_the_first_partition_day_skips_the_day_before_it(automation_defs, instance):
    start = business_days.start
    result = tick(automation_defs, instance, start.replace(hour=5))
    assert result.run_requests == []
    day_before = (start.date() - dt.timedelta(days=1)).isoformat()
    assert result.skip_message == (
        f"{day_before} is not a business-day partition (partitions start {start.date()})"
    )


def test_previous_day_is_counted_on_the_partitions_calendar_not_utc():
    # 02:00 UTC on the 22nd is still 21:00 on the 21st in New York: yesterday is the 20th there.
    at = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    assert previous_business_day(at, "America/New_York") == dt.date(2026, 11, 20)
    assert previous_business_day(at, "UTC") == dt.date(2026, 11, 21)
