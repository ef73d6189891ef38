"""SIGKILL the deployment's own command part-way through a multi-chunk demand send, part-way
through the Pixee batches and in the middle of the PXM read, then run it again AT ONCE, as a
person would: nothing accepted is sent twice, nothing is missing, and auto_calculate rides on
the final chunk exactly once.

The kill point is exact: inside the vendor's handler for the Nth accepted write, the test arms
a `slow` fault on the same endpoint, so the next request hangs; the test kills the run once the
sandbox holds that request. The killed run stays STARTED in the instance (nothing marks it
failed) and its ledger attempt `in_progress`; no heartbeat renews its lease any more, so the
re-run waits at most one lease (SYNC_LEASE_SECONDS, short here) and resumes.
"""

from __future__ import annotations

import signal
from pathlib import Path

import dagster as dg

from tests.reliability.figures import audit, cadence_violations
from tests.reliability.harness import Drop
from tests.reliability.job_process import (
    all_event_logs,
    fault_fired,
    job_environment,
    latest_metadata,
    start_daily_sync,
    wait_until,
)
from tests.reliability.leaks import SECRETS, leaks_in_text, leaks_in_tree
from tests.reliability.wire import WireLog

RUN_TIMEOUT_S = 240


# A killed attempt frees its endpoint after this long without a heartbeat (60 s by default).
LEASE_SECONDS = 4


def kill_then_rerun_at_once(
    root: Path,
    sandbox,
    path: str,
    arm,
    lease_s: int = LEASE_SECONDS,  # noqa: ANN001
) -> tuple:
    """Run daily_sync as a process, SIGKILL it while a request to `path` hangs (`arm` sets up
    the hang), and start the same command at once; return (killed, rerun) processes."""
    env = job_environment(root, sandbox, cap_bytes=2_000) | {"SYNC_LEASE_SECONDS": str(lease_s)}
    arm()
    killed = start_daily_sync(root, env, "killed")
    wait_until(lambda: fault_fired(sandbox, path), killed, timeout_s=RUN_TIMEOUT_S)
    killed.kill()
    assert killed.process.returncode == -signal.SIGKILL
    sandbox.clear_faults()
    assert started_runs(root / "home") == 1  # the dead run still looks alive to Dagster
    rerun = start_daily_sync(root, env, "rerun")
    assert rerun.wait(RUN_TIMEOUT_S) == 0, rerun.text()[-4000:]
    return killed, rerun


def kill_at_then_rerun(root: Path, sandbox, wire: WireLog, dataset: str, after: int, path: str):
    """Kill while the request after the `after`-th accepted `dataset` write hangs."""

    def hang_the_next_request() -> None:
        sandbox.add_fault(kind="slow", path=path, method="POST", delay_s=120, times=5)

    killed, rerun = kill_then_rerun_at_once(
        root, sandbox, path, lambda: wire.after(dataset, after, hang_the_next_request)
    )
    assert len(wire.accepted[dataset]) > after
    return killed, rerun


def started_runs(home: Path) -> int:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])
        return len(instance.get_runs(filters=filters))


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


def test_sigkill_mid_pxm_read_is_not_read_again_the_same_day(tmp_path, sandbox, wire):
    """The dead read already extracted pages: a second extraction would exceed PXM's one read
    a day. The re-run says so and syncs without it; a person can force the read by name."""
    Drop(products=7, demand_codes=20).write(tmp_path / "exports")

    def hang_the_attribute_page() -> None:
        sandbox.add_fault(kind="slow", vendor="pxm", path="attribute", delay_s=120, times=5)

    # A lease that outlasts the re-run's start (4-5 s on a slow machine), so it finds the dead
    # read still alive and waits for it, as the last assertion says.
    killed, rerun = kill_then_rerun_at_once(
        tmp_path, sandbox, "attribute", hang_the_attribute_page, lease_s=12
    )
    pxm = latest_metadata(tmp_path / "home", "pxm_catalog_cache")
    assert pxm["cadence"].startswith("skipped: already read today at ")
    assert "which did not finish; force naming this endpoint to read again" in pxm["cadence"]
    assert "another attempt is in progress" in rerun.text()  # it waited for the dead one
    assert len(sandbox.pixee_products()) == 7  # the Pixee sync went on without a new read
    assert_whole_and_secret_free(
        tmp_path, sandbox, wire, "SIGKILL mid PXM read", [killed.text(), rerun.text()]
    )
