"""The batched SQLite event log (pipelines/defs/event_log_storage.py) keeps what Dagster's own
keeps for a range run, per partition: materialized, failed and in progress, the latest
materialization, every event; it only writes a range's asset events in batches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from pipelines.defs.event_log_storage import (
    BATCH_SIZE,
    BatchedSqliteEventLogStorage,
    instance_yaml_section,
)

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01")
RANGE = {
    "dagster/asset_partition_range_start": "2026-01-01",
    "dagster/asset_partition_range_end": "2026-01-30",
}


class CountingStorage(BatchedSqliteEventLogStorage):
    """The batched storage, counting the events each write of a batch carried."""

    groups: list[int] = []

    def _store_group(self, events):  # noqa: ANN001, ANN202
        if len(events) > 1:
            CountingStorage.groups.append(len(events))
        super()._store_group(events)


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily(context) -> dg.MaterializeResult:  # noqa: ANN001 (a string annotation Dagster refuses)
    if context.run.tags.get("fail") == "yes":
        raise RuntimeError("the range run fails")
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


def instance_with(home: Path, storage: type | None) -> dg.DagsterInstance:
    home.mkdir()
    yaml = "telemetry:\n  enabled: false\n"
    if storage:
        yaml += instance_yaml_section(home / "history" / "runs", storage)
    (home / "dagster.yaml").write_text(yaml)
    return dg.DagsterInstance.from_config(str(home))


def partition_state(instance: dg.DagsterInstance) -> dict:
    key = dg.AssetKey("daily")
    status = get_and_update_asset_status_cache_value(instance, key, DAYS)
    latest = instance.get_latest_materialization_event(key)
    runs = instance.get_runs()
    return {
        "materialized": sorted(instance.get_materialized_partitions(key)),
        "failed": sorted(status.deserialize_failed_partition_subsets(DAYS).get_partition_keys()),
        "latest": latest.asset_materialization.partition,
        "events": sorted(
            sorted(
                (e.dagster_event.event_type_value, e.dagster_event.partition or "")
                for e in instance.all_logs(run.run_id)
                if e.dagster_event and e.dagster_event.asset_key
            )
            for run in runs
        ),
    }


def ranges_run(instance: dg.DagsterInstance) -> None:
    assert dg.materialize([daily], instance=instance, tags=RANGE).success
    failing = {**RANGE, "dagster/asset_partition_range_start": "2026-01-21", "fail": "yes"}
    result = dg.materialize([daily], instance=instance, tags=failing, raise_on_error=False)
    assert not result.success


def test_a_range_run_leaves_the_same_partition_state_written_in_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", BATCH_SIZE)
    CountingStorage.groups = []
    with instance_with(tmp_path / "batched", CountingStorage) as batched:
        assert isinstance(batched.event_log_storage, BatchedSqliteEventLogStorage)
        ranges_run(batched)
        ours = partition_state(batched)
    # 30 planned, 30 materialized, then the failing run's 10 planned: one write each
    assert CountingStorage.groups == [30, 30, 10]
    with instance_with(tmp_path / "dagster", None) as plain:
        ranges_run(plain)
        theirs = partition_state(plain)

    days = [(dt.date(2026, 1, 1) + dt.timedelta(d)).isoformat() for d in range(30)]
    assert ours == theirs
    assert ours["materialized"] == days
    assert ours["failed"] == days[20:]  # the failed run's days, materialized before or not
    assert ours["latest"] == "2026-01-30"
    assert len(ours["events"][0]) + len(ours["events"][1]) == 30 + 30 + 10


def test_loading_the_storage_turns_batches_on():
    import os

    assert int(os.environ["DAGSTER_EVENT_BATCH_SIZE"]) > 0
