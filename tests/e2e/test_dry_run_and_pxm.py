"""Dry-run writes the exact requests to the outbox with secrets masked and sends nothing; PXM is
read once a day into the cache, enriches the Pixee payload, and skips cleanly when unconfigured."""

from __future__ import annotations

import json

import dagster as dg

from pipelines.defs.jobs import daily_sync
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.sync_mode import SyncModeResource
from tests.e2e.conftest import base_resources, sandbox_resources
from tests.e2e.helpers import PIXEE_CHAIN, materialize, meta

DAY = "2026-11-21"


def all_assets():
    from pipelines.definitions import defs

    return list(defs.assets)


def test_dry_run_writes_exact_requests_without_credentials_and_sends_nothing(tmp_path, instance):
    resources = base_resources(tmp_path) | {
        "sync_mode": SyncModeResource(mode="dry-run", outbox_dir=str(tmp_path / "outbox")),
        "paqtana": PaqtanaResource(),  # no token, no org
        "pixee": PixeeResource(),
        "pxm": PxmResource(),
    }
    result = dg.materialize(all_assets(), partition_key=DAY, instance=instance, resources=resources)
    assert result.success
    outbox = tmp_path / "outbox" / result.run_id
    records = sorted(outbox.glob("*/*.request.json"))
    kinds = [(json.loads(p.read_text())["method"], p.parent.name) for p in records]
    assert kinds.count(("PUT", "paqtana")) == 1
    assert kinds.count(("POST", "paqtana")) == 1
    assert kinds.count(("POST", "pixee")) == 2  # 501 products: 500 + 1
    put = next(p for p in records if json.loads(p.read_text())["method"] == "PUT")
    record = json.loads(put.read_text())
    assert record["url"] == "https://api.paqtana.com/v2/org/dry-run-org/master_inventory"
    assert record["headers"]["authorization"] == "***"
    body = json.loads((put.parent / record["body_file"]).read_bytes())
    assert len(body["data"]) == 1003
    m = meta(result, "paqtana_master_inventory")
    assert m["cadence"].startswith("dry-run: written to the outbox, ledger untouched")
    assert m["requests_to"] == f"dry-run: outbox {outbox / 'paqtana'}"
    reads = {(k, v) for k, v in kinds if k == "GET"}
    assert reads == {("GET", "pixee"), ("GET", "pxm")}  # reads are recorded too
    assert m["requests_sent"] == 1 and m["dagster/row_count"] == 1003


def test_dry_run_leaves_the_budget_for_the_live_run(tmp_path, instance, sandbox):
    dry = (
        base_resources(tmp_path)
        | sandbox_resources(sandbox)
        | {"sync_mode": SyncModeResource(mode="dry-run", outbox_dir=str(tmp_path / "outbox"))}
    )
    assert dg.materialize(all_assets(), partition_key=DAY, instance=instance, resources=dry).success
    assert sandbox.requests() == []
    live = base_resources(tmp_path) | sandbox_resources(sandbox)
    result = dg.materialize(all_assets(), partition_key=DAY, instance=instance, resources=live)
    assert meta(result, "paqtana_master_inventory")["cadence"].startswith("sent: the write of")


def test_pxm_read_once_a_day_enriches_only_what_the_erp_left_empty(tmp_path, instance, pxm_sandbox):
    resources = base_resources(tmp_path) | sandbox_resources(pxm_sandbox)
    first = materialize(PIXEE_CHAIN, DAY, instance, resources)
    m = meta(first, "pxm_catalog_cache")
    assert m["collections"] == 150 and m["token_fetches"] == 1
    payload = meta(first, "pixee_products_payload")
    assert payload["pxm_matched_products"] == 150
    # the sample ERP leaves url_slug/category_id empty and has short descriptions: ERP wins
    assert payload["fields_filled_from_pxm"]["url_slug"] == 150
    assert payload["fields_filled_from_pxm"]["short_description"] == 0
    stored = {p["ean"]: p for p in pxm_sandbox.pixee_products()}
    assert stored["3760000000017"]["url_slug"] == "produit-00001"
    assert stored["3760000000017"]["short_description"] != "PXM short text 1"
    second = materialize(PIXEE_CHAIN, DAY, instance, resources)
    assert "already read today" in meta(second, "pxm_catalog_cache")["cadence"]
    assert sum(r["requests"] for r in pxm_sandbox.pxm_reads() if "collection" in r["endpoint"]) == 1


def test_pxm_not_configured_is_a_clean_skip(tmp_path, instance, sandbox):
    resources = base_resources(tmp_path) | sandbox_resources(sandbox) | {"pxm": PxmResource()}
    result = materialize(PIXEE_CHAIN, DAY, instance, resources)
    assert result.success
    assert meta(result, "pxm_catalog_cache")["cadence"].startswith("skipped: PXM is not configured")
    assert meta(result, "pixee_products_payload")["enrichment"] == "none: no PXM cache yet"


def test_daily_sync_job_covers_every_asset():
    from pipelines.definitions import defs

    job = defs.resolve_job_def(daily_sync.name)
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert keys == {
        "erp_items",
        "erp_products",
        "erp_demand",
        "paqtana_master_inventory",
        "paqtana_historical_demand",
        "pxm_catalog_cache",
        "pixee_products_payload",
        "pixee_products_sync",
        "pixee_catalog_cache",
        "daily_sync_report",
    }
