"""The ERP-arrival sensor requests the newest complete, settled drop newer than what the vendors
hold, once, by its day; older drops are left to its catch-up."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.core.cadence.endpoints import DAILY_WRITES
from pipelines.core.cadence.ledger import (
    CadenceLedger,
    Operation,
    Outcome,
    SyncKind,
    SyncRequest,
)
from pipelines.core.state_db import make_engine
from pipelines.defs import settings
from pipelines.defs.automation.sensors import erp_drop_sensor
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import business_days
from pipelines.defs.state_db import StateDatabaseResource, state_db_url

TODAY = dt.datetime.now(ZoneInfo(business_days.timezone)).date()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


@pytest.fixture
def export_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(settings, "ERP_EXPORT_DIR", str(folder))
    return folder


def drop(export_dir: Path, day: str, marker_age_s: float | None = 120.0) -> Path:
    """A drop folder; `marker_age_s=None` leaves out `_SUCCESS` (still being written)."""
    folder = export_dir / day
    folder.mkdir()
    (folder / "items.csv").write_text("location,code,on_hand\nP,A,1\n")
    if marker_age_s is not None:
        marker = folder / "_SUCCESS"
        marker.write_text("")
        written = time.time() - marker_age_s
        os.utime(marker, (written, written))
    return folder


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None):
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources={"erp": ErpExportsResource(), "state_db": StateDatabaseResource()},
    ) as context:
        return erp_drop_sensor.evaluate_tick(context)


def requested(result) -> list[tuple[str, str]]:
    return [(r.run_key, r.partition_key) for r in result.run_requests]


def mark_synced(instance: dg.DagsterInstance, day: str, endpoints: tuple[str, ...]) -> None:
    ledger = CadenceLedger(make_engine(state_db_url(instance)))
    for endpoint in endpoints:
        decision = ledger.claim(
            SyncRequest(
                endpoint=endpoint,
                operation=Operation.WRITE,
                business_day=dt.date.fromisoformat(day),
                range_label=day,
                kind=SyncKind.FORCED,  # several days marked on one calendar day
                run_id="earlier-run",
                force_reason="a test marks the day synced",
            )
        )
        assert decision.allowed
        ledger.finish(decision.sync_id, Outcome.SUCCEEDED)


def test_sensor_is_on_by_default_every_minute_for_daily_sync():
    assert erp_drop_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert erp_drop_sensor.minimum_interval_seconds == 60
    assert erp_drop_sensor.job_name == "daily_sync"


def test_at_first_start_only_the_newest_drop_is_requested_and_the_rest_left_to_catch_up(
    automation_defs, instance, export_dir
):
    days = [days_ago(3), days_ago(2), days_ago(1)]
    for day in days:
        drop(export_dir, day)

    first = tick(automation_defs, instance)

    assert requested(first) == [(days_ago(1), days_ago(1))]
    assert json.loads(first.cursor) == days  # the older two are never requested

    second = tick(automation_defs, instance, cursor=first.cursor)

    assert second.run_requests == []
    assert json.loads(second.cursor) == days
    assert second.skip_message == (
        f"no drop to sync in {export_dir}: 3 already requested: {', '.join(days)}"
    )


def test_new_drop_after_earlier_ones_is_the_only_one_requested(
    automation_defs, instance, export_dir
):
    drop(export_dir, days_ago(2))
    first = tick(automation_defs, instance)
    drop(export_dir, days_ago(1))

    second = tick(automation_defs, instance, cursor=first.cursor)

    assert requested(second) == [(days_ago(1), days_ago(1))]
    assert json.loads(second.cursor) == [days_ago(2), days_ago(1)]


def test_drop_without_success_marker_is_never_requested(automation_defs, instance, export_dir):
    drop(export_dir, days_ago(1), marker_age_s=None)

    result = tick(automation_defs, instance)

    assert result.run_requests == []
    assert json.loads(result.cursor) == []
    assert result.skip_message == (
        f"no drop to sync in {export_dir}: 1 incomplete (no _SUCCESS yet: still being "
        f"written): {days_ago(1)}"
    )


def test_success_marker_younger_than_settle_time_waits_one_tick(
    automation_defs, instance, export_dir
):
    folder = drop(export_dir, days_ago(1), marker_age_s=1)

    waiting = tick(automation_defs, instance)

    assert waiting.run_requests == []
    assert json.loads(waiting.cursor) == []
    assert waiting.skip_message == (
        f"no drop to sync in {export_dir}: 1 with a _SUCCESS younger than 30 s (next tick): "
        f"{days_ago(1)}"
    )

    settled = time.time() - 31
    os.utime(folder / "_SUCCESS", (settled, settled))
    later = tick(automation_defs, instance, cursor=waiting.cursor)

    assert requested(later) == [(days_ago(1), days_ago(1))]


def test_day_synced_on_every_daily_write_is_not_requested(automation_defs, instance, export_dir):
    fully_synced, half_synced = days_ago(2), days_ago(1)
    drop(export_dir, fully_synced)
    drop(export_dir, half_synced)
    mark_synced(instance, fully_synced, DAILY_WRITES)
    mark_synced(instance, half_synced, DAILY_WRITES[:2])  # one daily write still owed

    result = tick(automation_defs, instance)

    assert requested(result) == [(half_synced, half_synced)]
    assert json.loads(result.cursor) == [half_synced]


def test_days_outside_partitions_or_lookback_are_not_requested(
    automation_defs, instance, export_dir
):
    before_start = (business_days.start.date() - dt.timedelta(days=1)).isoformat()
    future = "2999-01-01"
    too_old, old_and_unfinished = days_ago(30), days_ago(29)
    for day in (before_start, too_old, future):
        drop(export_dir, day)
    drop(export_dir, old_and_unfinished, marker_age_s=None)
    (export_dir / "history").mkdir()  # not a dated folder: not a drop at all

    result = tick(automation_defs, instance)

    assert result.run_requests == []
    # An old drop is not looked into (no marker look-up per old drop per tick); the message
    # says so rather than calling an unfinished one complete.
    assert result.skip_message == (
        f"no drop to sync in {export_dir}: 2 not a business-day partition "
        f"(SYNC_PARTITIONS_START): {before_start}, {future}; 2 older than the 7-day lookback, "
        f"complete or not (backfill on purpose): {too_old}, {old_and_unfinished}"
    )


def test_a_late_drop_older_than_a_synced_one_is_left_to_the_catch_up(
    automation_defs, instance, export_dir
):
    drop(export_dir, days_ago(1))
    mark_synced(instance, days_ago(1), DAILY_WRITES)
    drop(export_dir, days_ago(3))  # arrives late, after the newer day was synced

    result = tick(automation_defs, instance)

    assert result.run_requests == []
    assert "1 older than a drop already synced (the catch-up carries their demand)" in (
        result.skip_message
    )


def test_empty_export_dir_says_so(automation_defs, instance, export_dir):
    result = tick(automation_defs, instance)

    assert result.run_requests == []
    assert result.skip_message == f"no dated drop folder in {export_dir}"


def test_cursor_keeps_the_latest_400_days(automation_defs, instance, export_dir):
    old = [(dt.date(2020, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(400)]
    drop(export_dir, days_ago(1))

    result = tick(automation_defs, instance, cursor=json.dumps(old))

    kept = json.loads(result.cursor)
    assert len(kept) == 400
    assert kept[0] == old[1]
    assert kept[-1] == days_ago(1)


def test_on_the_dated_demo_sample_the_sensor_starts_a_run_at_its_first_tick(
    automation_defs, instance, export_dir
):
    """What `make ui` shows: the committed sample dated to end yesterday (the fixed November
    days are past the lookback), its markers past the settle time."""
    from erp_sandbox.samples.erp_exports import DAILY_DROPS, dated_sample

    yesterday = TODAY - dt.timedelta(days=1)
    first = dated_sample(export_dir, yesterday)

    result = tick(automation_defs, instance)

    assert first == yesterday - dt.timedelta(days=DAILY_DROPS - 1)
    assert requested(result) == [(days_ago(1), days_ago(1))]
    assert not (export_dir / TODAY.isoformat() / "_SUCCESS").exists()  # still being written
