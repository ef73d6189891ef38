"""Each vendor load has a freshness check with the 07:00 deadline, and a sensor that runs them."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.automation import ASSET_CHECKS, SCHEDULES, SENSORS
from pipelines.defs.automation.freshness import load_freshness_checks, load_freshness_sensor
from pipelines.defs.partitions import business_days

LOAD_ASSETS = {
    "paqtana_master_inventory",
    "paqtana_historical_demand",
    "pixee_products_sync",
    "pixee_catalog_cache",
    "pxm_catalog_cache",
}
CHECK_KEYS = {dg.AssetCheckKey(dg.AssetKey(name), "freshness_check") for name in LOAD_ASSETS}


def check_keys(checks) -> set[dg.AssetCheckKey]:
    return {spec.key for checks_def in checks for spec in checks_def.check_specs}


def test_every_load_asset_has_a_freshness_check_and_nothing_else_does():
    assert check_keys(ASSET_CHECKS) == CHECK_KEYS


def test_freshness_expects_an_update_in_the_day_before_seven():
    [checks_def] = load_freshness_checks
    params = {
        spec.asset_key.to_user_string(): spec.metadata["dagster/freshness_params"].value
        for spec in checks_def.check_specs
    }
    assert params == {
        name: {
            "deadline_cron": "0 7 * * *",
            "lower_bound_delta_seconds": 86400.0,
            "timezone": business_days.timezone,
        }
        for name in LOAD_ASSETS
    }


def test_sensor_runs_every_check_that_never_ran(automation_defs, instance):
    context = dg.build_sensor_context(instance=instance, definitions=automation_defs)

    result = load_freshness_sensor.evaluate_tick(context)

    [request] = result.run_requests
    assert set(request.asset_check_keys) == CHECK_KEYS
    assert load_freshness_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_load_updated_now_passes_and_load_never_updated_fails(instance):
    instance.report_runless_asset_event(dg.AssetMaterialization("pxm_catalog_cache"))

    result = dg.materialize(
        load_freshness_checks,
        instance=instance,
        selection=dg.AssetSelection.checks(*load_freshness_checks),
    )

    outcomes = {
        e.asset_key.to_user_string(): (e.passed, e.description)
        for e in result.get_asset_check_evaluations()
    }
    assert outcomes.pop("pxm_catalog_cache")[0] is True
    assert outcomes == {
        name: (False, "Asset has never been observed/materialized.")
        for name in LOAD_ASSETS - {"pxm_catalog_cache"}
    }


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
