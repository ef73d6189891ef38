"""deploy/dagster.yaml as shipped, on PostgreSQL: two runs of the same day submitted at once go
through the run queue and the daemon, run side by side, share the vendor pools, and the cadence
ledger (in the instance's own database) lets exactly one of them send."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import sqlalchemy as sa

from tests.scale.conftest import (
    DAY,
    DEPLOY,
    VENV_BIN,
    background,
    run_command,
    wait_for,
)
from tests.scale.evidence import (
    POOL_OF_STEP,
    TERMINAL,
    assert_sent_once,
    failure_report,
    ledger_rows,
    pool_intervals,
)

WORKSPACE = str(DEPLOY / "workspace.yaml")
RUNS_TIMEOUT_S = 150
VENDOR_POOLS = ("paqtana", "pixee", "pxm")
QUEUED = dg.DagsterRunStatus.QUEUED


def test_two_queued_runs_of_one_day_send_once(deployment, sandbox, tmp_path):
    run_ids = [str(uuid.uuid4()) for _ in range(2)]
    launch = [
        [
            str(VENV_BIN / "dagster"),
            "job",
            "launch",
            "-w",
            WORKSPACE,
            "-j",
            "daily_sync",
            "--run-id",
            run_id,
            "--tags",
            json.dumps({"dagster/partition": DAY}),
            # one process per run (steps in the run worker) keeps the test fast on a busy
            # machine; steps in other processes and machines: test_celery_steps.py
            "--config-json",
            json.dumps({"execution": {"config": {"in_process": {}}}}),
        ]
        for run_id in run_ids
    ]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    daemon_log = tmp_path / "daemon.log"
    # As deploy/README.md says, once: the schema (created by the first instance, as
    # `dagster instance migrate` does) and the vendor pools at 1 (what `dagster instance
    # concurrency set <pool> 1` does), paqtana closed (0) for now. Then the ERP-arrival sensor
    # and the schedule off (they would launch runs of the sample drops), and two runs at once.
    instance = deployment.instance()
    slots = instance.event_log_storage
    for vendor_pool in VENDOR_POOLS:
        slots.set_concurrency_slots(vendor_pool, 0 if vendor_pool == "paqtana" else 1)
    operator = [
        [str(VENV_BIN / "dagster"), "sensor", "stop", "erp_drop_sensor", "-w", WORKSPACE],
        [str(VENV_BIN / "dagster"), "schedule", "stop", "daily_sync_schedule", "-w", WORKSPACE],
        *launch,
    ]
    with ThreadPoolExecutor(len(operator)) as shell:
        outputs = list(
            shell.map(lambda c: run_command(c, env=deployment.env, cwd=cwd, timeout=120), operator)
        )
    assert [instance.get_run_by_id(r).status for r in run_ids] == [QUEUED, QUEUED], outputs

    with background(
        [str(VENV_BIN / "dagster-daemon"), "run", "-w", WORKSPACE],
        env=deployment.env,
        cwd=cwd,
        log=daemon_log,
    ):
        # both runs reach their Paqtana step (inventory then demand) and wait on the closed
        # pool; opened at 1, the two waiting steps must go one at a time (the overlap check)
        wait_for(
            lambda: slots.get_concurrency_info("paqtana").pending_step_count == 2,
            RUNS_TIMEOUT_S,
            "both runs to wait on the paqtana pool",
            lambda: failure_report(instance, run_ids, daemon_log),
            interval=1,
        )
        slots.set_concurrency_slots("paqtana", 1)

        def finished():
            runs = [instance.get_run_by_id(r) for r in run_ids]
            return all(r.status in TERMINAL for r in runs) and runs

        runs = wait_for(
            finished,
            RUNS_TIMEOUT_S,
            "both runs to finish",
            lambda: failure_report(instance, run_ids, daemon_log),
            interval=1,
        )

    report = failure_report(instance, run_ids, daemon_log)
    assert [r.status.value for r in runs] == ["SUCCESS", "SUCCESS"], report
    records = {r.dagster_run.run_id: r for r in instance.get_run_records()}
    first, second = (records[r] for r in run_ids)
    assert first.start_time < second.end_time and second.start_time < first.end_time, (
        "the queue (max 4 runs) let both runs run at the same time"
    )

    assert_sent_once(sandbox, deployment.engine())

    # pools: one step at a time per vendor, across both runs (default_limit: 1, granularity: op)
    assert set(POOL_OF_STEP.values()) == set(VENDOR_POOLS)
    for pool_name, intervals in pool_intervals(instance, run_ids).items():
        ordered = sorted(intervals)
        assert len(ordered) == {"paqtana": 2, "pixee": 4, "pxm": 2}[pool_name]
        overlaps = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b[0] < a[1]]
        assert not overlaps, f"two {pool_name} steps at once: {overlaps}"

    # the ledger is in the instance's PostgreSQL database, not a SQLite file beside it
    rows = ledger_rows(deployment.engine())
    succeeded = {r.endpoint: r.run_id for r in rows if r.outcome == "succeeded"}
    assert sorted(succeeded) == [
        "paqtana POST historical_demand",
        "paqtana PUT master_inventory",
        "pixee GET products/delta",
        "pixee POST products/batch",
        "pxm GET catalog",
    ]
    assert set(succeeded.values()) <= set(run_ids)
    assert all(r.business_day == DAY for r in rows)
    losers = [r for r in rows if r.outcome != "succeeded"]
    assert {r.endpoint for r in losers} == set(succeeded), "the other run asked and was refused"
    assert all(r.run_id != succeeded[r.endpoint] for r in losers)
    assert not list(deployment.home.rglob("erp_sync_state.db"))
    with deployment.engine().connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert {"erp_sync_ledger", "pixee_synced_products", "runs", "event_logs"} <= tables
