"""Small ERP drops written by tests, and shortcuts to materialize asset chains."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import time_machine
from stdnum import ean as stdnum_ean

from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.paqtana import assets as paqtana_assets
from pipelines.defs.pixee import assets as pixee_assets
from pipelines.defs.pxm import assets as pxm_assets

PIXEE_CHAIN = [
    erp_assets.erp_products,
    pxm_assets.pxm_catalog_cache,
    pixee_assets.pixee_products_payload,
    pixee_assets.pixee_products_sync,
    pixee_assets.pixee_catalog_cache,
]
PAQTANA_CHAIN = [erp_assets.erp_items, erp_assets.erp_demand, paqtana_assets.paqtana_sync]
# The demand history alone (a backfill): the extract and the demand half of paqtana_sync.
DEMAND_ONLY = {
    "assets": [erp_assets.erp_demand, paqtana_assets.paqtana_sync],
    "selection": ["erp_demand", "paqtana_historical_demand"],
}


def ean(n: int) -> str:
    body = f"200{n:09d}"
    return body + stdnum_ean.calc_check_digit(body)


def write_drop(
    root: Path,
    day: str,
    products: list[dict] | None = None,
    items: str = "location,code,on_hand\nWH-PARIS,A,1\n",
    demand: str | None = None,
) -> Path:
    folder = root / day
    folder.mkdir(parents=True, exist_ok=True)
    products = (
        products
        if products is not None
        else [{"ean": ean(i), "name": f"P{i}", "brand_name": "B"} for i in range(1, 4)]
    )
    columns = sorted({k for p in products for k in p}, key=lambda c: c != "ean")
    lines = [",".join(columns)] + [",".join(str(p.get(c, "")) for c in columns) for p in products]
    (folder / "products.csv").write_text("\n".join(lines) + "\n")
    (folder / "items.csv").write_text(items)
    (folder / "demand.csv").write_text(
        demand or f"date,location,code,quantity\n{day},WH-PARIS,A,1\n"
    )
    (folder / "_SUCCESS").write_text("")
    return folder


def materialize(assets, day: str, instance, resources, **kwargs) -> dg.ExecuteInProcessResult:  # noqa: ANN001
    return dg.materialize(
        assets, partition_key=day, instance=instance, resources=resources, **kwargs
    )


def materializations_of(result: dg.ExecuteInProcessResult, asset: str) -> list:
    """The asset's materializations in the run (by key: one step may materialize several)."""
    key = dg.AssetKey(asset)
    return [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == key
    ]


def meta(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    mats = materializations_of(result, asset)
    return {k: v.value for k, v in mats[-1].metadata.items()}


@contextmanager
def calendar_day(day: str, hour: int = 6) -> Iterator[None]:
    """Run the block on the morning of calendar day `day` (UTC): the ledger counts its budget
    per calendar day, so "the next day" in a test is a real next day. The clock keeps ticking."""
    moment = dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=True):
        yield


def next_day(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def batch_posts(sandbox) -> list[dict]:  # noqa: ANN001
    """The Pixee batch upserts the sandbox received, oldest first."""
    return [r for r in sandbox.requests("pixee") if r["path"].endswith("/products/batch")]
