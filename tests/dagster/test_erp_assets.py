"""The Dagster layer over ERP ingestion: definitions load, extracts materialize with metadata,
the blocking check stops a bad frame, and a demand range is one run."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.staging import StagingResource
from tests.conftest import CANONICAL_MAPPING, LOCATIONS, SAMPLE_EXPORTS


def erp_resource(tmp_path, export_dir=SAMPLE_EXPORTS, max_reject_share=0.05):
    """The extracts' resources: the ERP side, and staging under `tmp_path/data`."""
    return {
        "erp": ErpExportsResource(
            export_dir=str(export_dir),
            mapping_file=str(CANONICAL_MAPPING),
            locations_file=str(LOCATIONS),
            max_reject_share=max_reject_share,
        ),
        "staging": StagingResource(data_dir=str(tmp_path / "data")),
    }


def test_definitions_load_with_daily_sync_job():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    assert {"erp_items", "erp_products", "erp_demand"} <= {
        k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()
    }
    assert defs.resolve_job_def("daily_sync").partitions_def is not None


def test_extracts_of_the_sample_drop_stage_clean_rows_and_write_rejects(tmp_path):
    erp = erp_resource(tmp_path)
    result = dg.materialize(
        [erp_assets.erp_items, erp_assets.erp_products, erp_assets.erp_demand],
        partition_key="2026-11-21",
        resources=erp,
    )
    assert result.success
    items_meta = result.asset_materializations_for_node("erp_items")[0].metadata
    assert items_meta["dagster/row_count"].value == 1003
    assert items_meta["rows_rejected"].value == 2
    rejects = pd.read_csv(items_meta["rejects_file"].value)
    assert sorted(rejects.reason) == ["negative value not allowed", "not a number"]
    staged = pd.read_parquet(tmp_path / "data/staging/erp_items/2026-11-21.parquet")
    assert len(staged) == 1003
    checks = {c.asset_key.to_user_string(): c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"erp_items": True, "erp_products": True, "erp_demand": True}


def test_too_many_rejects_fail_the_blocking_check(tmp_path):
    day = tmp_path / "exports" / "2026-11-21"
    day.mkdir(parents=True)
    (day / "items.csv").write_text("location,code,on_hand\nP,A,1\nP,B,-1\nP,C,x\n")
    (day / "_SUCCESS").write_text("")
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [erp_assets.erp_items],
            partition_key="2026-11-21",
            resources=erp_resource(tmp_path, tmp_path / "exports"),
            instance=instance,
            raise_on_error=False,
        )
        logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    reason = evaluation.metadata["reason"].value
    assert reason.startswith("2 of 3 rows refused: 66.7% is above MAX_REJECT_SHARE=0.05 (5%); see ")
    # The run's log, not only the check's metadata, says which check stopped what, and why.
    assert (
        f"blocking check erp_items/usable failed, so the loads that read erp_items do not run: "
        f"{reason}" in logs
    )


def test_demand_range_backfill_is_one_run_writing_every_day(tmp_path):
    erp = erp_resource(tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [erp_assets.erp_demand],
            instance=instance,
            resources=erp,
            tags={
                "dagster/asset_partition_range_start": "2026-09-23",
                "dagster/asset_partition_range_end": "2026-11-21",
            },
        )
        assert result.success
        runs = instance.get_runs()
        assert len(runs) == 1
    staged = sorted((tmp_path / "data/staging/erp_demand").glob("*.parquet"))
    assert len(staged) == 60
    assert staged[0].stem == "2026-09-23" and staged[-1].stem == "2026-11-21"
    days = pd.read_parquet(staged[-1]).date.dt.date.unique().tolist()
    assert days == [dt.date(2026, 11, 21)]
