"""Scale-out fixtures: the shipped deploy/dagster.yaml on a fresh PostgreSQL database, the
sandbox, and background processes (daemon, Celery workers) that are always stopped.

Every process is started in its own process group and the whole group is stopped in a finally
block (the daemon's code server and run workers, a Celery worker's pool children go with it);
every wait has a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from erp_sandbox import Sandbox, run_sandbox
from pipelines.core.state_db import postgres_driver_url
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
DAY = "2026-11-21"
VENV_BIN = Path(sys.executable).parent
STOP_GRACE_S = 20.0


def require(condition: bool, reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where a skip would hide the test."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    report: Callable[[], str] = str,
    interval: float = 0.5,
):
    """Poll until `predicate()` is truthy and return it; at the deadline fail naming `what`,
    with `report()` (e.g. the processes' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{report()}")
        time.sleep(interval)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group `proc` leads, SIGKILL what is left after the grace period."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE_S)
    with suppress(ProcessLookupError):  # members that outlived the leader (run worker, pool child)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_GRACE_S)


@contextmanager
def background(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen]:
    """A process in its own group, output to `log` (a file, so a full pipe never blocks it)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop_group(proc)


def run_command(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run to completion in its own group (killed at the deadline); return its output."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        pytest.fail(f"{' '.join(command[:4])} ... did not finish in {timeout:.0f} s")
    finally:
        if proc.poll() is None:
            stop_group(proc)
    assert proc.returncode == 0, output
    return output


@dataclass
class Deployment:
    """A DAGSTER_HOME holding the shipped deploy/dagster.yaml, pointed at a fresh database, and
    the environment every process of the deployment gets."""

    home: Path
    pg_url: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.pg_url)

    def another_machine(self, root: Path) -> dict[str, str]:
        """The environment of a process that shares only the database and the data folder:
        its own DAGSTER_HOME (same dagster.yaml), working folder, HOME and TMPDIR."""
        home = root / "dagster_home"
        for folder in (home, root / "cwd", root / "tmp", root / "user"):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.home / "dagster.yaml", home / "dagster.yaml")
        return self.env | {
            "DAGSTER_HOME": str(home),
            "HOME": str(root / "user"),
            "TMPDIR": str(root / "tmp"),
        }


def vendor_env(sandbox: Sandbox) -> dict[str, str]:
    """Settings pointing every vendor at the sandbox with its demo credentials."""
    return {
        "PAQTANA_BASE_URL": sandbox.paqtana_url,
        "PAQTANA_TOKEN": "sandbox-paqtana-token",
        "PAQTANA_ORG": "demo-org",
        "PIXEE_BASE_URL": sandbox.pixee_url,
        "PIXEE_API_KEY": "pm_test_sandbox",
        "PXM_BASE_URL": sandbox.pxm_url,
        "PXM_CLIENT_ID": "sandbox-pxm-client",
        "PXM_CLIENT_SECRET": "sandbox-pxm-secret",
    }


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox() as box:
        yield box


@pytest.fixture
def deployment(tmp_path, postgres_url, sandbox, monkeypatch) -> Deployment:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    pg_url = postgres_driver_url(postgres_url)
    data_dir = tmp_path / "shared_data"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAQTANA_", "PIXEE_", "PXM_", "DAGSTER_", "SYNC_", "ERP_"))
    }
    env |= {
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": pg_url,
        "ERP_SYNC_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **vendor_env(sandbox),
    }
    monkeypatch.setenv("DAGSTER_PG_URL", pg_url)  # for deployment.instance() in the test
    return Deployment(home=home, pg_url=pg_url, data_dir=data_dir, env=env)
