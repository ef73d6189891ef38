"""daily_sync's and demand_backfill's executor: in_process unless the run config says
otherwise. The deployment's own command, with no run config, runs every step of daily_sync in
the run's process, each with its own events (what the UI shows per step); `multiprocess` stays
selectable for a deployment that wants a process per step
(tests/reliability/test_pxm_outage_process.py runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import pytest

from tests.conftest import ROOT, SAMPLE_EXPORTS

DAY = "2026-11-21"


@pytest.mark.parametrize("name", ["daily_sync", "demand_backfill"])
def test_the_job_takes_either_executor_in_run_config(name):
    from pipelines.definitions import defs

    job = defs.resolve_job_def(name)

    def chosen(run_config: dict) -> list[str]:
        [executor] = dg.validate_run_config(job, run_config)["execution"].values()
        return list(executor)

    assert chosen({}) == ["in_process"]
    for executor in ("in_process", "multiprocess"):
        assert chosen({"execution": {"config": {executor: {}}}}) == [executor]


def test_the_deployment_command_runs_every_step_in_the_runs_process(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAQTANA_", "PIXEE_", "PXM_"))}
    env |= {
        "DAGSTER_HOME": str(home),
        "SYNC_MODE": "dry-run",
        "ERP_EXPORT_DIR": str(SAMPLE_EXPORTS),
        "ERP_SYNC_DATA_DIR": str(tmp_path / "data"),
        "SYNC_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    command = [sys.executable, "-m", "dagster", "job", "execute", "-m", "pipelines.definitions"]
    command += ["-j", "daily_sync", "--tags", json.dumps({"dagster/partition": DAY})]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        events = instance.all_logs(run.run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    by_type: dict[dg.DagsterEventType, list] = {}
    for entry in events:
        if entry.dagster_event is not None:
            by_type.setdefault(entry.dagster_event.event_type, []).append(entry)
    started = {e.step_key for e in by_type[dg.DagsterEventType.STEP_START]}
    succeeded = {e.step_key for e in by_type[dg.DagsterEventType.STEP_SUCCESS]}
    assert started == succeeded
    assert {"erp_demand", "paqtana_sync", "pixee_products_sync", "pxm_catalog_cache"} <= started
    [run_pid] = {e.dagster_event.pid for e in by_type[dg.DagsterEventType.RUN_START]}
    assert {e.dagster_event.pid for e in by_type[dg.DagsterEventType.STEP_START]} == {run_pid}
