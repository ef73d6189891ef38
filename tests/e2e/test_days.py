"""Nine calendar days of a deployment's life against the sandbox, the clock moved for the whole
process: the 05:00 schedule, the drop sensor, the 07:00 deadline, a weekend, a Paqtana outage,
a late drop, and a correction of an earlier day inside a newer drop. At the end, what the vendors
HOLD is what the ERP has, and no endpoint took more than its daily budget."""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import time_machine

from erp_sandbox import run_sandbox
from pipelines.core.cadence.endpoints import DAILY_WRITES
from pipelines.core.cadence.ledger import CadenceLedger
from pipelines.core.state_db import make_engine
from pipelines.defs import settings
from pipelines.defs.automation.freshness import load_freshness_sensor
from pipelines.defs.automation.schedules import daily_sync_schedule
from pipelines.defs.automation.sensors import erp_drop_sensor
from pipelines.defs.state_db import StateDatabaseResource, state_db_url
from tests.e2e.helpers import ean, write_drop
from tests.reliability.harness import resources, run_daily_sync, sandbox_config

FIRST, LAST = dt.date(2026, 11, 16), dt.date(2026, 11, 24)  # Monday .. the next Tuesday
LATE_DAY = dt.date(2026, 11, 18)  # its drop lands on the 19th at 10:00, after the deadline
OUTAGE_MORNING = dt.date(2026, 11, 18)  # Paqtana answers 503 all morning
CORRECTED_DAY, CORRECTING_DROP = dt.date(2026, 11, 17), dt.date(2026, 11, 20)
LOCATIONS = ("WH-PARIS", "WH-LYON")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


def demand_of(day: dt.date) -> dict[tuple[str, str, str], float]:
    """The ERP's truth: two series a business day."""
    return {(day.isoformat(), loc, "D-1"): float(day.day + i) for i, loc in enumerate(LOCATIONS)}


def write_erp_drop(exports: Path, day: dt.date, written: dt.datetime, truth: dict) -> None:
    rows = dict(demand_of(day))
    if day == CORRECTING_DROP:  # a correction of an earlier day, inside a newer drop
        rows[(CORRECTED_DAY.isoformat(), "WH-PARIS", "D-1")] = 99.0
    truth.update(rows)
    demand = "date,location,code,quantity\n" + "".join(
        f"{d},{loc},{code},{q}\n" for (d, loc, code), q in rows.items()
    )
    items = "location,code,on_hand\n" + "".join(f"{loc},I-1,{day.day}\n" for loc in LOCATIONS)
    products = [{"ean": ean(i), "name": f"P{i} of {day}", "brand_name": "B"} for i in (1, 2)]
    folder = write_drop(exports, day.isoformat(), products, items=items, demand=demand)
    stamp = written.timestamp()  # the file system's clock is not the travelled one
    os.utime(folder / "_SUCCESS", (stamp, stamp))


def _code_location() -> dg.Definitions:
    from pipelines.definitions import defs

    return defs


class Deployment:
    """The automation of one code location, evaluated tick by tick on the travelled clock."""

    def __init__(self, root: Path, sandbox, instance) -> None:  # noqa: ANN001
        self.root, self.sandbox, self.instance = root, sandbox, instance
        self.resources = resources(sandbox, root, cap_bytes=2_000)
        self.runs: list[tuple[str, str, bool]] = []  # (calendar day, partition, success)
        self.sensor_cursor: str | None = None
        self.freshness_cursor: str | None = None
        self.alerts: list = []

    def run(self, partition: str) -> None:
        result = run_daily_sync(self.resources, self.instance, partition)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        self.runs.append((today, partition, result.success))

    def schedule_tick(self, day: dt.date) -> None:
        with dg.build_schedule_context(
            instance=self.instance,
            scheduled_execution_time=at(day, 5),
            repository_def=_code_location().get_repository_def(),
            resources={"erp": self.resources["erp"]},
        ) as context:
            result = daily_sync_schedule.evaluate_tick(context)
        for request in result.run_requests or []:
            self.run(request.partition_key)

    def sensor_tick(self) -> None:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.sensor_cursor,
            repository_def=_code_location().get_repository_def(),
            resources={"erp": self.resources["erp"], "state_db": StateDatabaseResource()},
        ) as context:
            result = erp_drop_sensor.evaluate_tick(context)
        self.sensor_cursor = result.cursor
        for request in result.run_requests or []:
            self.run(request.partition_key)

    def deadline_tick(self) -> None:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.freshness_cursor,
            resources={"erp": self.resources["erp"]},
        ) as context:
            self.freshness_cursor = load_freshness_sensor.evaluate_tick(context).cursor


@pytest.fixture
def sandbox():
    with run_sandbox(sandbox_config()) as box:
        yield box


def test_nine_calendar_days_keep_the_vendors_whole_within_their_daily_budget(
    tmp_path, sandbox, monkeypatch
):
    exports = tmp_path / "exports"
    home = tmp_path / "home"
    home.mkdir()
    deployment = None
    truth: dict[tuple[str, str, str], float] = {}
    monkeypatch.setattr(settings, "alert_webhook_url", lambda: "http://127.0.0.1:9/alerts")
    alerts: list = []
    monkeypatch.setattr(
        "pipelines.defs.automation.freshness.post_alert", lambda url, alert: alerts.append(alert)
    )
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        day = FIRST
        while day <= LAST:
            drop_day = day - dt.timedelta(days=1)
            with time_machine.travel(at(day, 5, 0), tick=True):
                deployment = deployment or Deployment(tmp_path, sandbox, instance)
                if day == OUTAGE_MORNING:
                    sandbox.add_fault(kind="status", status=503, vendor="paqtana", times=200)
                deployment.schedule_tick(day)
                deployment.sensor_tick()
                sandbox.clear_faults()
            with time_machine.travel(at(day, 7, 5), tick=True):
                deployment.deadline_tick()
            with time_machine.travel(at(day, 10, 0), tick=True):
                if drop_day == LATE_DAY:  # the late drop lands; the sensor syncs it
                    write_erp_drop(exports, LATE_DAY, at(day, 9, 58), truth)
                deployment.sensor_tick()
            with time_machine.travel(at(day, 20, 0), tick=True):
                expected = settings.business_calendar().expects_drop(day)
                if expected and day not in (LATE_DAY, LAST):
                    write_erp_drop(exports, day, at(day, 19, 55), truth)
            day += dt.timedelta(days=1)

        runs = deployment.runs
        # No run on the weekend mornings (after Saturday, after Sunday) and none that failed
        # but the outage morning's.
        assert not [r for r in runs if r[0] in ("2026-11-22", "2026-11-23")]
        assert [r for r in runs if not r[2]] == [("2026-11-18", "2026-11-17", False)]
        # The late drop: skipped by the schedule, synced by the sensor at 10:00 that morning.
        assert ("2026-11-19", "2026-11-18", True) in runs
        # One alert in nine days: the late drop missing at the 19th's deadline.
        assert [(a.day, a.deadline) for a in alerts] == [("2026-11-18", "07:00 UTC")]

        # The budget: at most one accepted send per write endpoint per calendar day, and one
        # recalculation a day.
        book = CadenceLedger(make_engine(state_db_url(instance)))
        for endpoint in DAILY_WRITES:
            per_day = Counter(
                e["sent_on"] for e in book.entries(endpoint) if e["outcome"] == "succeeded"
            )
            assert per_day and max(per_day.values()) == 1, (endpoint, per_day)
        recalculations = Counter(
            p["time"][:10] for p in sandbox.demand_posts() if p["auto_calculate"]
        )
        assert max(recalculations.values()) == 1

    # What the vendors hold at the end is what the ERP has: the outage's day, the late drop and
    # the correction of the 17th inside the 20th's drop all arrived with a later send.
    held = {
        (r["date"], r["location"], r["code"]): r["quantity"] for r in sandbox.historical_demand()
    }
    assert held == truth
    assert held[(CORRECTED_DAY.isoformat(), "WH-PARIS", "D-1")] == 99.0
    newest = max(d for (d, _loc, _code) in truth)
    assert newest == "2026-11-23"  # Monday's drop, synced on Tuesday morning
    inventory = {(r["location"], r["code"]): r["onHandStock"] for r in sandbox.master_inventory()}
    assert inventory == {(loc, "I-1"): 23 for loc in LOCATIONS}
    assert {p["name"] for p in sandbox.pixee_products()} == {"P1 of 2026-11-23", "P2 of 2026-11-23"}
