"""Freshness on the business calendar: each load synced the business day's drop by the deadline;
a weekend morning expects nothing; an expected drop missing at the deadline alerts once."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import pytest
import time_machine

from pipelines.defs import settings
from pipelines.defs.automation import ASSET_CHECKS, SCHEDULES, SENSORS
from pipelines.defs.automation.freshness import load_freshness_sensor
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.loads import FRESHNESS_CHECK, LOAD_ASSETS
from tests.e2e.helpers import write_drop

CHECK_KEYS = {dg.AssetCheckKey(dg.AssetKey(name), FRESHNESS_CHECK) for name in LOAD_ASSETS}


@pytest.fixture
def exports(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    monkeypatch.setattr(settings, "ERP_EXPORT_DIR", str(folder))
    return folder


def tick(instance, cursor=None, at="2026-11-24T07:30:00+00:00"):  # noqa: ANN001, ANN201
    with (
        time_machine.travel(dt.datetime.fromisoformat(at), tick=False),
        dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"erp": ErpExportsResource()}
        ) as context,
    ):
        return load_freshness_sensor.evaluate_tick(context)


def synced(instance, day: str, assets=LOAD_ASSETS) -> None:  # noqa: ANN001
    for asset in assets:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))


def evaluations(instance) -> dict[str, tuple[bool, str]]:  # noqa: ANN001
    found = {}
    for key in CHECK_KEYS:
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).get(key)
        event = record.event if record else None
        if event is not None:
            data = event.dagster_event.event_specific_data
            found[key.asset_key.to_user_string()] = (data.passed, data.description)
    return found


def test_every_load_asset_has_a_named_freshness_check_and_nothing_else_does():
    specs = {spec.key: spec for checks in ASSET_CHECKS for spec in checks.check_specs}
    assert set(specs) == CHECK_KEYS
    description = specs[dg.AssetCheckKey(dg.AssetKey("paqtana_master_inventory"), FRESHNESS_CHECK)]
    assert description.description == (
        "paqtana_master_inventory updated by 07:00 UTC: each morning it has synced the drop of "
        "the business day before (Mon-Fri); a morning after a day without a drop expects nothing."
    )


def test_a_morning_after_a_synced_business_day_is_fresh_and_judged_once(instance, exports):
    write_drop(exports, "2026-11-23")  # Monday
    synced(instance, "2026-11-23")
    first = tick(instance)
    assert json.loads(first.cursor) == ["2026-11-24"]
    assert set(evaluations(instance).values()) == {(True, "synced 2026-11-23 by the deadline")}
    again = tick(instance, first.cursor, at="2026-11-24T09:00:00+00:00")
    assert again.skip_message == "2026-11-24 already judged"


def test_a_weekend_morning_expects_nothing_and_alerts_nothing(instance, exports, monkeypatch):
    posted = []
    monkeypatch.setattr(settings, "alert_webhook_url", lambda: "http://127.0.0.1:9/hook")
    monkeypatch.setattr(
        "pipelines.defs.automation.freshness.post_alert", lambda url, alert: posted.append(alert)
    )
    for morning in ("2026-11-22", "2026-11-23"):  # after Saturday, after Sunday
        tick(instance, at=f"{morning}T07:05:00+00:00")
        assert all(passed for passed, _ in evaluations(instance).values())
    assert posted == []


def test_a_missing_expected_drop_alerts_once_and_the_loads_show_stale(
    instance, exports, monkeypatch
):
    posted = []
    monkeypatch.setattr(settings, "alert_webhook_url", lambda: "http://127.0.0.1:9/hook")
    monkeypatch.setattr(
        "pipelines.defs.automation.freshness.post_alert", lambda url, alert: posted.append(alert)
    )
    cursor = None
    for minute in range(5):  # five ticks past the deadline
        cursor = tick(instance, cursor, at=f"2026-11-24T07:0{minute}:00+00:00").cursor
    [alert] = posted
    assert alert.day == "2026-11-23"
    assert alert.text.startswith("the ERP drop for 2026-11-23 was expected by 07:00 UTC and is not")
    stale = evaluations(instance)
    assert {passed for passed, _ in stale.values()} == {False}
    assert stale["pxm_catalog_cache"][1] == (
        "pxm_catalog_cache has not synced the drop of 2026-11-23 by 07:00 UTC on 2026-11-24"
    )


def test_exported_lists_wire_into_one_code_location(automation_defs):
    repo = automation_defs.get_repository_def()
    assert {s.name for s in SCHEDULES} == {"daily_sync_schedule"}
    assert {s.name for s in SENSORS} == {
        "erp_drop_sensor",
        "run_failure_alert",
        "load_freshness_sensor",
    }
    assert {s.name for s in repo.sensor_defs} == {s.name for s in SENSORS}
    assert [s.name for s in repo.schedule_defs] == ["daily_sync_schedule"]
