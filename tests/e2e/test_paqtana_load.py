"""Paqtana loads against the sandbox: what crossed the wire, and the cadence on a second run."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.paqtana import assets as paqtana_assets
from tests.e2e.conftest import DAY

ASSETS = [
    erp_assets.erp_items,
    erp_assets.erp_demand,
    paqtana_assets.paqtana_master_inventory,
    paqtana_assets.paqtana_historical_demand,
]


def run(instance, resources, **kwargs):
    return dg.materialize(
        ASSETS, partition_key=DAY, instance=instance, resources=resources, **kwargs
    )


def test_daily_load_sends_the_inventory_once_and_every_day_of_the_catch_up_window(
    instance, resources, sandbox, tmp_path
):
    result = run(instance, resources)
    assert result.success
    staged_items = pd.read_parquet(tmp_path / "data/staging/erp_items" / f"{DAY}.parquet")
    inventory = sandbox.master_inventory()
    assert len(inventory) == len(staged_items) == 1003
    assert {r["workspaceCode"] for r in inventory} == {"WS-NORTH", "WS-SOUTH"}
    posts = sandbox.demand_posts()
    assert [p["auto_calculate"] for p in posts] == [True]
    # the 14 days ending at DAY: nothing was accepted before, so every one goes
    window = sorted((tmp_path / "data/staging/erp_demand").glob("*.parquet"))
    assert [p.stem for p in window] == [f"2026-11-{d:02d}" for d in range(8, 22)]
    staged_demand = pd.concat([pd.read_parquet(p) for p in window])
    received = sandbox.historical_demand()
    assert len(received) == len(staged_demand)
    assert sum(r["quantity"] for r in received) == staged_demand.quantity.sum()
    demand = result.asset_materializations_for_node("paqtana_historical_demand")[0].metadata
    assert len(demand["days_sent"].value) == 14


def test_second_run_same_day_sends_nothing(instance, resources, sandbox):
    assert run(instance, resources).success
    writes_before = [r for r in sandbox.requests("paqtana") if r["method"] != "GET"]
    second = run(instance, resources)
    assert second.success
    writes_after = [r for r in sandbox.requests("paqtana") if r["method"] != "GET"]
    assert writes_after == writes_before
    meta = second.asset_materializations_for_node("paqtana_master_inventory")[0].metadata
    assert meta["cadence"].value.startswith("skipped: already sent today at ")
    assert "for 2026-11-21 (the vendor takes one send a day" in meta["cadence"].value
    assert meta["requests_sent"].value == 1  # the workspaces pre-flight, a read
