"""The load checks judge the metadata of a materialization read back from the instance: the one
made in the check's own run when there is one, else the latest. Verdicts below come from
materializations recorded in an in-memory instance; the checks inside real daily_sync runs are
in test_rerun_one_day."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.defs.load_checks import materialization_to_check, reject_share_result
from pipelines.defs.paqtana.checks import HISTORICAL_DEMAND, MASTER_INVENTORY, byte_cap_result
from pipelines.defs.partitions import business_days
from pipelines.defs.pixee.checks import PRODUCTS_SYNC

DAY = "2026-11-21"


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def record(instance, asset: dg.AssetKey, partition: str = DAY, **metadata) -> None:  # noqa: ANN001
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata)
    )


def latest(instance, asset: dg.AssetKey):  # noqa: ANN001, ANN201
    return materialization_to_check(instance, asset, run_id=None)


def test_demand_requests_over_the_cap_fail_as_an_error(instance):
    record(instance, HISTORICAL_DEMAND, largest_request_bytes=1_000, byte_cap=2_000)
    record(instance, HISTORICAL_DEMAND, largest_request_bytes=2_001, byte_cap=2_000, chunks=3)

    result = byte_cap_result(HISTORICAL_DEMAND, latest(instance, HISTORICAL_DEMAND))

    assert not result.passed
    assert result.severity is dg.AssetCheckSeverity.ERROR
    assert result.description == "largest request 2,001 bytes, cap 2,000 bytes"
    assert {k: v.value for k, v in result.metadata.items()} == {
        "largest_request_bytes": 2_001,
        "byte_cap": 2_000,
        "headroom_bytes": -1,
        "chunks": 3,
        "run_id": "",
        "partition": DAY,
    }


def test_demand_requests_at_the_cap_pass(instance):
    record(instance, HISTORICAL_DEMAND, largest_request_bytes=2_000, byte_cap=2_000)
    assert byte_cap_result(HISTORICAL_DEMAND, latest(instance, HISTORICAL_DEMAND)).passed


@pytest.mark.parametrize("asset", [MASTER_INVENTORY, HISTORICAL_DEMAND])
def test_paqtana_rejects_share_is_rows_rejected_over_rows_in(instance, asset):
    record(instance, asset, rows_in=100, rows_rejected=6, rejects_file=dg.MetadataValue.path("/r"))
    checked = latest(instance, asset)
    over = reject_share_result(asset, checked, 0.05, refused="rows_rejected", total="rows_in")
    assert not over.passed
    assert over.severity is dg.AssetCheckSeverity.WARN
    assert over.description == "6 of 100 refused (6%; limit 5%)"
    assert over.metadata["rejects_file"].value == "/r"
    assert reject_share_result(
        asset, checked, 0.06, refused="rows_rejected", total="rows_in"
    ).passed


def test_pixee_share_is_over_the_days_catalog_so_one_resent_refusal_stays_small(instance):
    record(instance, PRODUCTS_SYNC, products_considered=501, to_send=1, failed=1)
    result = reject_share_result(
        PRODUCTS_SYNC,
        latest(instance, PRODUCTS_SYNC),
        0.05,
        refused="failed",
        total="products_considered",
    )
    assert result.passed
    assert result.description == "1 of 501 refused (0.2%; limit 5%)"


def test_no_rows_in_is_a_zero_share(instance):
    record(instance, MASTER_INVENTORY, rows_in=0, rows_rejected=0)
    checked = latest(instance, MASTER_INVENTORY)
    assert reject_share_result(
        MASTER_INVENTORY, checked, 0.0, refused="rows_rejected", total="rows_in"
    ).passed


def test_a_check_without_a_materialization_or_its_metadata_says_so(instance):
    never = byte_cap_result(HISTORICAL_DEMAND, latest(instance, HISTORICAL_DEMAND))
    assert (never.passed, never.description) == (
        False,
        "paqtana_historical_demand: never materialized",
    )
    record(instance, PRODUCTS_SYNC, mode="dry-run")
    missing = reject_share_result(
        PRODUCTS_SYNC,
        latest(instance, PRODUCTS_SYNC),
        0.05,
        refused="failed",
        total="products_considered",
    )
    assert (missing.passed, missing.description) == (
        False,
        "pixee_products_sync: the latest materialization has no failed/products_considered",
    )


def test_inside_a_run_the_check_judges_that_runs_materialization_not_a_later_one(instance):
    @dg.asset(key=HISTORICAL_DEMAND, partitions_def=business_days)
    def demand_load() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"largest_request_bytes": 10, "byte_cap": 20})

    run = dg.materialize([demand_load], partition_key=DAY, instance=instance)
    # Another day's run finished after it, with a request over the cap.
    record(instance, HISTORICAL_DEMAND, "2026-11-20", largest_request_bytes=30, byte_cap=20)

    in_run = materialization_to_check(instance, HISTORICAL_DEMAND, run.run_id)
    assert in_run.source == {"run_id": run.run_id, "partition": DAY}
    assert byte_cap_result(HISTORICAL_DEMAND, in_run).passed
    alone = materialization_to_check(instance, HISTORICAL_DEMAND, "a-check-only-run")
    assert alone.source["partition"] == "2026-11-20"
    assert not byte_cap_result(HISTORICAL_DEMAND, alone).passed


def test_delivered_in_full_names_each_shortfall_and_passes_a_load_that_left_nothing_out(instance):
    from pipelines.defs.load_checks import DELIVERY_CHECK, delivery_result

    blocked = "blocked: removed_share: 40% of what Paqtana holds (lift it for one run with force)"
    record(
        instance,
        MASTER_INVENTORY,
        cadence=blocked,
        sent=0,
        refused=2,
        failed=0,
        rows_carried_forward=3,
        rejects_file=dg.MetadataValue.path("/r"),
    )
    record(
        instance,
        PRODUCTS_SYNC,
        cadence="skipped: already sent today",
        sent=0,
        refused=0,
        failed=0,
        still_failing=1,
    )
    record(
        instance,
        HISTORICAL_DEMAND,
        cadence="sent: the write of 2026-11-22",
        sent=9,
        refused=0,
        failed=0,
    )
    verdicts = {
        asset.to_user_string(): delivery_result(
            dg.AssetCheckKey(asset, DELIVERY_CHECK), latest(instance, asset)
        )
        for asset in (MASTER_INVENTORY, PRODUCTS_SYNC, HISTORICAL_DEMAND)
    }

    inventory, inventory_tag = verdicts["paqtana_master_inventory"]
    assert not inventory.passed and inventory.severity == dg.AssetCheckSeverity.WARN
    assert inventory.description == (
        "paqtana_master_inventory: nothing sent: stopped by a safeguard: removed_share: 40% of "
        "what Paqtana holds (lift it for one run with force); 2 refused before sending; "
        "3 carried forward"
    )
    assert inventory.metadata["rejects_file"].value == "/r"
    assert inventory_tag.startswith("paqtana inventory: nothing sent: stopped by a safeguard")
    products, products_tag = verdicts["pixee_products_sync"]
    assert products_tag == "pixee: 1 still refused by Pixee since an earlier send"
    demand, demand_tag = verdicts["paqtana_historical_demand"]
    assert demand.passed and demand_tag is None
    assert demand.description == "paqtana_historical_demand: nothing left out"
