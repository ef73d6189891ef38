"""Re-running one day safely: daily_sync launched with the run config its description documents
(`resources.cadence.config.force` + `reason`) sends the day again, and the ledger and the
materializations say it was forced and why. The new load checks run in the same runs."""

from __future__ import annotations

import re

import dagster as dg
import yaml

from pipelines.core.cadence.endpoints import (
    PAQTANA_HISTORICAL_DEMAND,
    PAQTANA_MASTER_INVENTORY,
    PIXEE_DELTA_READ,
)
from pipelines.core.cadence.ledger import CadenceLedger
from pipelines.core.state_db import make_engine
from pipelines.defs.automation import ASSET_CHECKS
from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.jobs import daily_sync
from pipelines.defs.paqtana import assets as paqtana_assets
from pipelines.defs.paqtana.checks import PAQTANA_CHECKS
from pipelines.defs.pixee import assets as pixee_assets
from pipelines.defs.pixee.checks import PIXEE_CHECKS
from pipelines.defs.pxm import assets as pxm_assets
from pipelines.defs.state_db import state_db_url
from tests.e2e.helpers import meta

DAY = "2026-11-21"


def documented_rerun_config() -> dict:
    """The YAML block of daily_sync's description, exactly as a person copies it."""
    block = re.search(r"```yaml\n(.*?)```", daily_sync.description, re.S)
    assert block, "daily_sync's description must show the re-run YAML"
    return yaml.safe_load(block.group(1))


def sandbox_daily_sync(resources: dict) -> dg.JobDefinition:
    """daily_sync as the code location wires it, with the vendor resources on the sandbox."""
    defs = dg.Definitions(
        assets=dg.load_assets_from_modules([erp_assets, paqtana_assets, pxm_assets, pixee_assets]),
        asset_checks=[*ASSET_CHECKS, *PAQTANA_CHECKS, *PIXEE_CHECKS],
        jobs=[daily_sync],
        resources=resources,
    )
    return defs.resolve_job_def("daily_sync")


def test_the_documented_rerun_config_is_valid_for_the_deployed_job():
    from pipelines.definitions import defs

    config = documented_rerun_config()
    assert config["resources"]["cadence"]["config"]["force"] is True
    assert config["resources"]["cadence"]["config"]["reason"].strip()
    dg.validate_run_config(defs.resolve_job_def("daily_sync"), config)


def test_a_forced_rerun_of_a_sent_day_sends_again_and_records_forced_with_the_reason(
    resources, instance, sandbox
):
    job = sandbox_daily_sync(resources)
    first = job.execute_in_process(partition_key=DAY, instance=instance)
    assert meta(first, "paqtana_master_inventory")["cadence"].startswith("sent: the write of")

    config = documented_rerun_config()
    reason = config["resources"]["cadence"]["config"]["reason"]
    forced = job.execute_in_process(partition_key=DAY, instance=instance, run_config=config)

    assert forced.success
    for asset in ("paqtana_master_inventory", "paqtana_historical_demand"):
        assert meta(forced, asset)["cadence"] == f"sent: forced: {reason}", asset
    # PXM's one read a day is lifted only when force names it
    assert meta(forced, "pxm_catalog_cache")["cadence"].startswith("skipped: already read today")
    ledger = CadenceLedger(make_engine(state_db_url(instance)))
    forced_rows = [e for e in ledger.entries() if e["run_id"] == forced.run_id]
    assert {(e["endpoint"], e["kind"], e["reason"], e["outcome"]) for e in forced_rows} >= {
        (PAQTANA_MASTER_INVENTORY, "forced", f"forced: {reason}", "succeeded"),
        (PAQTANA_HISTORICAL_DEMAND, "forced", f"forced: {reason}", "succeeded"),
        (PIXEE_DELTA_READ, "forced", f"forced: {reason}", "succeeded"),
    }
    puts = [r for r in sandbox.requests("paqtana") if r["method"] == "PUT"]
    assert len(puts) == 2  # the day was really sent twice

    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in forced.get_asset_check_evaluations()
    }
    cap = checks[("paqtana_historical_demand", "requests_under_byte_cap")]
    assert cap.passed and cap.metadata["run_id"].value == forced.run_id
    assert cap.metadata["largest_request_bytes"].value <= cap.metadata["byte_cap"].value
    for asset in ("paqtana_master_inventory", "paqtana_historical_demand", "pixee_products_sync"):
        share = checks[(asset, "rejects_share_under_threshold")]
        assert share.passed, (asset, share.description)
        assert share.metadata["partition"].value == DAY
