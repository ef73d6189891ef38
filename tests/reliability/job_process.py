"""The daily sync as the deployment runs it: `dagster job execute` in its own process against a
DAGSTER_HOME instance, with secrets in the environment; and what a test needs to kill it at an
exact point and look at the instance afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.defs.jobs import daily_sync
from tests.conftest import ROOT
from tests.reliability.harness import DAY, ORG
from tests.reliability.leaks import SECRETS, Secrets, event_log_text


@dataclass
class JobProcess:
    """A `dagster job execute` of daily_sync in its own session, output in a file."""

    process: subprocess.Popen
    output: Path

    def wait(self, timeout_s: float) -> int:
        """The exit status; a run still going after `timeout_s` is killed and the wait fails."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the run's whole process group (only the processes this test started)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def job_environment(
    root: Path, sandbox: Any, cap_bytes: int, secrets: Secrets = SECRETS
) -> dict[str, str]:
    """What a deployment sets, pointing at the sandbox: secrets as environment variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAQTANA_", "PIXEE_", "PXM_"))}
    return env | {
        "DAGSTER_HOME": str(root / "home"),
        "ERP_EXPORT_DIR": str(root / "exports"),
        "ERP_SYNC_DATA_DIR": str(root / "data"),
        "SYNC_MODE": "live",
        "SYNC_OUTBOX_DIR": str(root / "outbox"),
        "PAQTANA_BASE_URL": sandbox.paqtana_url,
        "PAQTANA_TOKEN": secrets.paqtana_token,
        "PAQTANA_ORG": ORG,
        "PAQTANA_MAX_BODY_BYTES": str(cap_bytes),
        "PIXEE_BASE_URL": sandbox.pixee_url,
        "PIXEE_API_KEY": secrets.pixee_key,
        "PXM_BASE_URL": sandbox.pxm_url,
        "PXM_CLIENT_ID": secrets.pxm_client_id,
        "PXM_CLIENT_SECRET": secrets.pxm_secret,
    }


def daily_sync_command(day: str, run_config: Path) -> list[str]:
    """The deployment's command line for one day's daily_sync with a run config file."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "execute",
        "-m",
        "pipelines.definitions",
        "-j",
        daily_sync.name,
        "--tags",
        json.dumps({"dagster/partition": day}),
        "-c",
        str(run_config),
    ]


def start_daily_sync(
    root: Path, env: dict[str, str], name: str, day: str = DAY, executor: str = "in_process"
) -> JobProcess:
    """Launch the deployment's command for one day. Steps run in the run's own process (the
    in_process executor) so that killing that process kills the send it is making;
    `executor="multiprocess"` runs each step in its own process, as a deployment does."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config = root / f"{executor}.yaml"
    config.write_text(f"execution:\n  config:\n    {executor}: {{}}\n")
    output = root / f"{name}.log"
    command = daily_sync_command(day, config)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return JobProcess(process, output)


def wait_until(condition: Callable[[], bool], process: JobProcess, timeout_s: float) -> None:
    """Poll `condition` until it holds; fail at once if the run ended first or time ran out."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.process.poll() is not None:
            raise AssertionError(f"the run ended before the kill point:\n{process.text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"kill point not reached in {timeout_s}s")
        time.sleep(0.05)


def fault_fired(sandbox: Any, path: str) -> bool:
    """A request to `path` is being held by an armed slow fault right now."""
    return any(
        f["kind"] == "slow" and f["path"] == path and f["fired"] for f in sandbox.active_faults()
    )


def report_killed_runs_failed(home: Path) -> list[str]:
    """Do what Dagster's run monitoring does for a run whose process died: mark it failed. The
    cadence guard then stops treating its attempt as alive, so a re-run resumes at once instead
    of waiting out the attempt's lease (`CadenceGuardResource.lease_minutes`, 15)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        started = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        for run in started:
            instance.report_run_failed(run, message="the run process was killed (SIGKILL)")
        return [run.run_id for run in started]


def latest_metadata(home: Path, asset: str) -> dict[str, Any]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        assert event is not None and event.asset_materialization is not None
        return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def all_event_logs(home: Path) -> str:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return "\n".join(event_log_text(instance, run.run_id) for run in instance.get_runs())
