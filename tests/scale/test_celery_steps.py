"""daily_sync with dagster-celery's executor on the PostgreSQL instance: every step runs in a
fresh process of a Celery worker (RabbitMQ on 127.0.0.1), and the workers and the run share
nothing but the database and ERP_SYNC_DATA_DIR, as separate machines would (own DAGSTER_HOME,
working folder, HOME and TMPDIR each). If a step relied on another step's process (memory, a
working folder, temp files, the instance's local storage), it would fail here or the cadence
and sync state would be wrong."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, suppress
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines.defs.report import REPORT_ASSET
from tests.conftest import ROOT
from tests.scale.conftest import DAY, VENV_BIN, Deployment, background, port_open, require, wait_for
from tests.scale.evidence import (
    UPSTREAM_OF_STEP,
    assert_sent_once,
    failure_report,
    ledger_rows,
    step_events,
)

BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
LOCATION = "pipelines.definitions"
CODE_PATH = {"PYTHONPATH": str(ROOT)}  # the test location lives in tests/, not installed
WORKER_READY_TIMEOUT_S = 90
WORKER_STOP_TIMEOUT_S = 60
RUN_TIMEOUT_S = 150
# the steps that read only the ERP drop and PXM; every other asset step reads what they wrote
# (the report reads the run's records, not files, and runs last: it is no extract)
EXTRACTS = {
    step for step, upstream in UPSTREAM_OF_STEP.items() if not upstream and step != REPORT_ASSET
}
BUDGETED_CALLS = {
    "paqtana POST historical_demand",
    "paqtana PUT master_inventory",
    "pixee GET products/delta",
    "pixee POST products/batch",
    "pxm GET catalog",
}


def celery_config(queue: str) -> dict:
    """The executor's run config, also the workers' config (-y): same broker, same queue."""
    return {
        "execution": {
            "config": {
                "broker": BROKER,
                "backend": "rpc://",
                # a queue of our own: nothing else on this broker takes our steps, or we theirs
                "config_source": {"task_default_queue": queue},
            }
        }
    }


class Machines:
    """The run's machine and two worker machines, each with its own folders (a, b)."""

    def __init__(self, tmp_path: Path, deployment: Deployment, queue: str) -> None:
        self.root = tmp_path
        self.deployment = deployment
        self.queue = queue
        self.config = tmp_path / "celery.yaml"
        self.config.write_text(yaml.safe_dump(celery_config(queue)))
        # unique on the broker: a worker's control queue (<name>@host.celery.pidbox) is
        # exclusive, and the last test's may not be gone yet
        self.names = {side: f"{queue}-{side}" for side in "ab"}
        self.logs = {side: tmp_path / f"worker_{side}.log" for side in "ab"}
        self.run_log = tmp_path / "run.log"

    def hostname(self, side: str) -> str:
        return f"{self.names[side]}@{socket.gethostname()}"

    def env(self, machine: str) -> dict[str, str]:
        return self.deployment.another_machine(self.root / machine) | CODE_PATH

    def cwd(self, machine: str) -> Path:
        return self.root / machine / "cwd"

    def worker(self, side: str) -> AbstractContextManager[subprocess.Popen]:
        command = [
            str(VENV_BIN / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(self.config),
            "-q",
            self.queue,
            "-n",
            self.names[side],
            "-i",
            LOCATION,  # imported once by the worker, so each fresh step process starts fast
            "--",
            "--concurrency=1",
            "--max-tasks-per-child=1",  # every step in a new process: no memory carried over
            "--without-gossip",
            "--without-mingle",
        ]
        return background(command, env=self.env(side), cwd=self.cwd(side), log=self.logs[side])

    def run(self) -> AbstractContextManager[subprocess.Popen]:
        command = [
            str(VENV_BIN / "dagster"),
            "job",
            "execute",
            "-m",
            LOCATION,
            "-j",
            "daily_sync_celery",
            "-c",
            str(self.config),
            "--tags",
            json.dumps({"dagster/partition": DAY}),
        ]
        return background(command, env=self.env("run"), cwd=self.cwd("run"), log=self.run_log)

    def report(self, instance: dg.DagsterInstance) -> str:
        run_ids = [r.run_id for r in instance.get_runs()]
        return failure_report(instance, run_ids, self.run_log, *self.logs.values())


def succeeded_steps(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs()
    success = {dg.DagsterEventType.STEP_SUCCESS}
    return {e.step_key for e in step_events(instance, runs[0].run_id, success)} if runs else set()


def warm_shutdown(worker: subprocess.Popen) -> None:
    """Stop a `dagster-celery worker start` as Celery wants: SIGTERM to the Celery main process
    only (its pool child finishes the step in hand), then wait for the CLI to exit."""
    for pid in children_of(worker.pid):
        os.kill(pid, signal.SIGTERM)
    worker.wait(timeout=WORKER_STOP_TIMEOUT_S)


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # the 4th field of /proc/<pid>/stat: the parent's pid
                children.append(int(stat.parent.name))
    return children


def celery_worker_of_step(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """step -> the Celery worker that ran it (dagster-celery's "Executing steps" event)."""
    worker_of = {}
    for event in step_events(instance, run_id, {dg.DagsterEventType.ENGINE_EVENT}):
        data = event.dagster_event.event_specific_data
        worker = data.metadata.get("Celery worker") if data and data.metadata else None
        if worker is not None:
            worker_of[event.step_key] = worker.value
    return worker_of


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of our own on the broker, deleted afterwards (with its exchange)."""
    require(port_open(5672), "no RabbitMQ on 127.0.0.1:5672")
    require(importlib.util.find_spec("dagster_celery") is not None, "dagster-celery not installed")
    name = f"erp_sync_test_{uuid.uuid4().hex[:10]}"
    yield name
    import kombu

    with kombu.Connection(BROKER, connect_timeout=10) as connection:
        connection.default_channel.queue_delete(name)
        connection.default_channel.exchange_delete(name)


def test_daily_sync_on_celery_workers_keeps_no_state_in_any_process_or_machine(
    deployment, sandbox, queue, tmp_path
):
    instance = deployment.instance()  # creates the schema once, before any process uses it
    machines = Machines(tmp_path, deployment, queue)
    report = lambda: machines.report(instance)  # noqa: E731
    # Machine a does the extracts, then leaves (warm shutdown: it finishes the step in hand,
    # queued steps stay queued); machine b, started only then, does the rest. So the loads
    # read what another machine staged, whatever order the broker hands steps out in.
    with machines.worker("a") as worker_a:
        wait_for(
            lambda: " ready." in machines.logs["a"].read_text(errors="replace"),
            WORKER_READY_TIMEOUT_S,
            "Celery worker a to be ready",
            report,
        )
        with machines.run() as run_process:
            wait_for(
                lambda: succeeded_steps(instance) >= EXTRACTS,
                RUN_TIMEOUT_S,
                "the extracts on worker a",
                report,
            )
            warm_shutdown(worker_a)
            with machines.worker("b"):
                wait_for(lambda: run_process.poll() is not None, RUN_TIMEOUT_S, "the run", report)
    [run] = instance.get_runs()
    assert run_process.returncode == 0 and run.status == dg.DagsterRunStatus.SUCCESS, report()
    assert run.tags["dagster/partition"] == DAY

    # every step went to a Celery worker; the extracts to a, the loads read them on b
    started = step_events(instance, run.run_id, {dg.DagsterEventType.STEP_START})
    worker_of = celery_worker_of_step(instance, run.run_id)
    assert set(worker_of) == {e.step_key for e in started} >= set(UPSTREAM_OF_STEP)
    assert {worker_of[step] for step in EXTRACTS} == {machines.hostname("a")}, worker_of
    handoffs = [
        (up, down)
        for down, ups in UPSTREAM_OF_STEP.items()
        for up in ups
        if worker_of[down] == machines.hostname("b") and worker_of[up] == machines.hostname("a")
    ]
    assert handoffs, f"no step on b read what a step on a wrote: {worker_of}"

    # each step in a process of its own, none of them the run's
    [run_start] = step_events(instance, run.run_id, {dg.DagsterEventType.RUN_START})
    pids = [e.dagster_event.pid for e in started]
    assert len(set(pids)) == len(pids) and run_start.dagster_event.pid not in pids

    assert_sent_once(sandbox, deployment.engine())
    succeeded = {
        r.endpoint
        for r in ledger_rows(deployment.engine())
        if r.outcome == "succeeded" and r.run_id == run.run_id
    }
    assert succeeded == BUDGETED_CALLS  # the ledger is in PostgreSQL ...
    assert not list(tmp_path.rglob("erp_sync_state.db"))  # ... not a SQLite file anywhere

    # staged frames and caches in the shared data folder; nothing a step needs anywhere else
    data = deployment.data_dir
    for dataset in ("erp_items", "erp_demand", "erp_products", "pixee_products_payload"):
        assert (data / "staging" / dataset / f"{DAY}.parquet").exists(), dataset
    assert (data / "pxm" / "catalog.sqlite").exists()
    assert (data / "pixee" / "catalog.parquet").exists()
    storage = tmp_path / "run" / "dagster_home" / "storage"
    kept = {p.relative_to(storage).parts[1] for p in storage.rglob("*") if p.is_file()}
    assert kept <= {"compute_logs"}, kept  # no step output in the run machine's DAGSTER_HOME
    for machine in ("a", "b", "run"):
        assert os.listdir(machines.cwd(machine)) == [], f"{machine} wrote to its working folder"
