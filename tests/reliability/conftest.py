"""Reliability fixtures: a sandbox that knows only the fake secrets, a record of what it accepted,
and a `scenario` that runs the daily sync, keeps every run's output and audits the end state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from erp_sandbox import run_sandbox
from tests.e2e.conftest import no_retry_sleeps  # noqa: F401 (autouse fixture reused)
from tests.reliability.figures import Figures, audit, cadence_violations, pixee_rejects
from tests.reliability.harness import failure_messages, resources, run_daily_sync, sandbox_config
from tests.reliability.leaks import SECRETS, Secrets, event_log_text, leaks_in_text, leaks_in_tree
from tests.reliability.wire import WireLog


@pytest.fixture
def instance(tmp_path):
    """Runs and events in memory (half the time of a SQLite instance on this machine); the
    ledger and other state files still live under `tmp_path/dagster_home`."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.ephemeral(tempdir=str(home)) as ephemeral:
        yield ephemeral


@pytest.fixture
def sandbox():
    with run_sandbox(sandbox_config()) as box:
        yield box


@pytest.fixture
def wire(sandbox):
    return WireLog(sandbox)


@dataclass
class Scenario:
    """One reliability scenario: runs of the daily sync against one sandbox and instance, with
    every run's outcome, failure messages and captured output kept for the audit."""

    sandbox: Any
    wire: WireLog
    root: Path
    instance: dg.DagsterInstance
    capfd: pytest.CaptureFixture[str]
    runs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    results: list[dg.ExecuteInProcessResult] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    pixee_rejected: set[str] = field(default_factory=set)

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def run(self, assets: list[str] | None = None, **options: Any) -> dg.ExecuteInProcessResult:
        """One daily sync (or only `assets` of it); `options` go to the resources."""
        result = run_daily_sync(
            resources(self.sandbox, self.root, **options), self.instance, assets=assets
        )
        captured = self.capfd.readouterr()
        self.output += [captured.out, captured.err]
        self.results.append(result)
        self.runs.append("succeeded" if result.success else "failed")
        self.failures += failure_messages(result).values()
        self.pixee_rejected |= set(pixee_rejects(self.data_dir)["value"])
        return result

    def audit(self, name: str) -> Figures:
        return audit(
            name,
            self.sandbox,
            self.wire,
            self.data_dir,
            self.runs,
            self.failures,
            self.pixee_rejected,
        )

    def leaks(self, secrets: Secrets = SECRETS) -> list[str]:
        """Secrets found in the captured output, the runs' event logs (messages, metadata,
        errors) or any file the runs left (instance storage, compute logs, staging, outbox)."""
        texts = [*self.output, *(event_log_text(self.instance, r.run_id) for r in self.results)]
        found = [s for text in texts for s in leaks_in_text(text, secrets)]
        return found + leaks_in_tree(self.root, secrets)

    def assert_survived(self, figures: Figures, faults: int) -> None:
        """The end state every scenario must reach: each fault injected, nothing lost or sent
        twice, the vendors' cadence kept, no secret anywhere."""
        fired = Counter((r["vendor"], r["fault"]) for r in self.sandbox.requests() if r["fault"])
        assert figures.faults_injected == faults, str(fired)
        assert (figures.rows_lost, figures.duplicates) == (0, 0), figures.datasets
        assert figures.faults_survived == faults
        assert cadence_violations(self.sandbox, self.wire) == []
        assert self.leaks() == []


@pytest.fixture
def scenario(sandbox, wire, tmp_path, instance, capfd):
    return Scenario(sandbox, wire, tmp_path, instance, capfd)
