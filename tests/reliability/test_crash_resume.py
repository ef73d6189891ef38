"""SIGKILL the deployment's own command part-way through a multi-chunk demand send and part-way
through the Pixee batches, then run it again: nothing accepted is sent twice, nothing is missing,
and auto_calculate rides on the final chunk exactly once.

The kill point is exact: inside the vendor's handler for the Nth accepted write, the test arms
a `slow` fault on the same endpoint, so the next request hangs; the test kills the run once the
sandbox holds that request. The killed run stays STARTED in the instance and its ledger attempt
`in_progress` under a 15-minute lease; the test marks the run failed as Dagster's run monitoring
would (`instance.report_run_failed`), which is what lets the re-run resume at once.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.reliability.figures import audit, cadence_violations
from tests.reliability.harness import Drop
from tests.reliability.job_process import (
    all_event_logs,
    fault_fired,
    job_environment,
    latest_metadata,
    report_killed_runs_failed,
    start_daily_sync,
    wait_until,
)
from tests.reliability.leaks import SECRETS, leaks_in_text, leaks_in_tree
from tests.reliability.wire import WireLog

RUN_TIMEOUT_S = 240


def kill_at_then_rerun(root: Path, sandbox, wire: WireLog, dataset: str, after: int, path: str):
    """Run daily_sync as a process, SIGKILL it while the request after the `after`-th accepted
    `dataset` write hangs, mark it failed, run again; return (killed, rerun) processes."""
    env = job_environment(root, sandbox, cap_bytes=2_000)

    def hang_the_next_request() -> None:
        sandbox.add_fault(kind="slow", path=path, method="POST", delay_s=120, times=5)

    wire.after(dataset, after, hang_the_next_request)
    killed = start_daily_sync(root, env, "killed")
    wait_until(lambda: fault_fired(sandbox, path), killed, timeout_s=RUN_TIMEOUT_S)
    killed.kill()
    assert killed.process.returncode == -signal.SIGKILL
    sandbox.clear_faults()
    assert len(wire.accepted[dataset]) == after
    assert len(report_killed_runs_failed(root / "home")) == 1
    rerun = start_daily_sync(root, env, "rerun")
    assert rerun.wait(RUN_TIMEOUT_S) == 0, rerun.text()[-4000:]
    return killed, rerun


def assert_whole_and_secret_free(root: Path, sandbox, wire: WireLog, name: str, outputs) -> None:
    figures = audit(name, sandbox, wire, root / "data", runs=["killed", "succeeded"])
    assert (figures.rows_lost, figures.duplicates) == (0, 0), figures.datasets
    assert figures.rows_sent == figures.rows_in
    assert cadence_violations(sandbox, wire) == []
    texts = [*outputs, all_event_logs(root / "home")]
    assert [s for text in texts for s in leaks_in_text(text, SECRETS)] == []
    assert leaks_in_tree(root, SECRETS) == []


def test_sigkill_mid_demand_send_resumes_with_the_rest_and_one_auto_calculate(
    tmp_path, sandbox, wire
):
    Drop(demand_codes=200).write(tmp_path / "exports")
    killed, rerun = kill_at_then_rerun(
        tmp_path, sandbox, wire, "demand", after=2, path="historical_demand"
    )
    demand = latest_metadata(tmp_path / "home", "paqtana_historical_demand")
    chunks = demand["chunks"]
    assert chunks >= 5
    assert (demand["chunks_already_accepted"], demand["chunks_sent"]) == (2, chunks - 2)
    assert "resuming, 2 unit(s) already accepted are not resent" in demand["cadence"]
    posts = sandbox.demand_posts()
    assert [p["auto_calculate"] for p in posts] == [False] * (chunks - 1) + [True]
    assert len(wire.accepted["demand"]) == chunks
    assert_whole_and_secret_free(
        tmp_path, sandbox, wire, "SIGKILL mid demand send", [killed.text(), rerun.text()]
    )


def test_sigkill_mid_pixee_batches_resends_only_the_products_not_accepted(tmp_path, sandbox, wire):
    Drop(products=1_100, demand_codes=20).write(tmp_path / "exports")
    killed, rerun = kill_at_then_rerun(
        tmp_path, sandbox, wire, "pixee", after=1, path="products/batch"
    )
    sync = latest_metadata(tmp_path / "home", "pixee_products_sync")
    assert (sync["new"], sync["unchanged"], sync["batches"]) == (600, 500, 2)
    assert [len(batch) for batch in wire.accepted["pixee"]] == [500, 500, 100]
    assert len(sandbox.pixee_products()) == 1_100
    assert_whole_and_secret_free(
        tmp_path, sandbox, wire, "SIGKILL mid Pixee batches", [killed.text(), rerun.text()]
    )
