"""The morning schedule runs the day that just ended, only when the business calendar expects its
drop and the drop is complete; otherwise it skips, saying why."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from pipelines.defs import settings
from pipelines.defs.automation.schedules import daily_sync_schedule, previous_day
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import business_days
from tests.e2e.helpers import write_drop


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, at: dt.datetime):
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=at,
        repository_def=defs.get_repository_def(),
        resources={"erp": ErpExportsResource()},
    ) as context:
        return daily_sync_schedule.evaluate_tick(context)


@pytest.fixture
def exports(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(settings, "ERP_EXPORT_DIR", str(folder))
    return folder


def at_five(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=5, tzinfo=dt.UTC)


def test_schedule_runs_at_five_in_the_partitions_timezone_and_is_on_by_default():
    assert daily_sync_schedule.cron_schedule == "0 5 * * *"
    assert daily_sync_schedule.execution_timezone == business_days.timezone
    assert daily_sync_schedule.job_name == "daily_sync"
    assert daily_sync_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_tick_at_five_requests_the_previous_business_day_when_its_drop_is_complete(
    automation_defs, instance, exports
):
    write_drop(exports, "2026-11-20")  # a Friday
    result = tick(automation_defs, instance, at_five("2026-11-21"))
    assert [(r.run_key, r.partition_key) for r in result.run_requests] == [
        ("2026-11-20", "2026-11-20")
    ]


def test_a_weekend_day_launches_nothing_and_says_why(automation_defs, instance, exports):
    write_drop(exports, "2026-11-20")
    for morning, weekday in (("2026-11-22", "Saturday"), ("2026-11-23", "Sunday")):
        result = tick(automation_defs, instance, at_five(morning))
        assert result.run_requests == []
        yesterday = (dt.date.fromisoformat(morning) - dt.timedelta(days=1)).isoformat()
        assert result.skip_message == (
            f"no drop expected: {yesterday} is a {weekday}, not a business day (Mon-Fri); the "
            "next send catches up"
        )


def test_a_holiday_launches_nothing(automation_defs, instance, exports, tmp_path, monkeypatch):
    holidays = tmp_path / "holidays.txt"
    holidays.write_text("# company holidays\n2026-11-26  # Thanksgiving\n")
    monkeypatch.setattr(settings, "HOLIDAYS_FILE", str(holidays))
    result = tick(automation_defs, instance, at_five("2026-11-27"))
    assert result.skip_message.startswith("no drop expected: 2026-11-26 is a holiday")


def test_a_late_drop_is_not_launched_into_a_failure(automation_defs, instance, exports):
    result = tick(automation_defs, instance, at_five("2026-11-20"))  # Thursday's drop: none yet
    assert result.run_requests == []
    assert result.skip_message.startswith("not launched: no ERP drop for 2026-11-19")
    assert "The erp_drop_sensor starts the sync when the drop is complete" in result.skip_message
    folder = exports / "2026-11-19"
    write_drop(exports, "2026-11-19")
    (folder / "_SUCCESS").unlink()  # written, not finished
    half = tick(automation_defs, instance, at_five("2026-11-20"))
    assert "has no _SUCCESS marker" in half.skip_message


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
    assert previous_day(at, "America/New_York") == dt.date(2026, 11, 20)
    assert previous_day(at, "UTC") == dt.date(2026, 11, 21)
