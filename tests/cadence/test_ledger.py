"""The cadence ledger's rules, on SQLite files and across processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest

from pipelines.core.cadence.ledger import (
    CadenceLedger,
    ForceWithoutReasonError,
    Operation,
    Outcome,
    SyncKind,
    SyncRequest,
)
from pipelines.core.state_db import make_engine

DAY = dt.date(2026, 11, 21)
EP = "paqtana POST historical_demand"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 5, 2, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock):
    return CadenceLedger(make_engine(f"sqlite:///{tmp_path / 'ledger.db'}"), clock=clock)


def req(
    run_id="run-a",
    kind=SyncKind.SCHEDULED,
    day=DAY,
    payload="h1",
    op=Operation.WRITE,
    endpoint=EP,
    label=None,
    reason=None,
) -> SyncRequest:
    return SyncRequest(
        endpoint=endpoint,
        operation=op,
        business_day=day,
        range_label=label or day.isoformat(),
        kind=kind,
        run_id=run_id,
        payload_hash=payload,
        force_reason=reason,
    )


def test_second_write_for_the_same_day_is_skipped_with_who_and_when(ledger):
    first = ledger.claim(req())
    assert first.allowed
    ledger.finish(first.sync_id, Outcome.SUCCEEDED, requests=3)
    second = ledger.claim(req(run_id="run-b", payload="h2"))
    assert not second.allowed
    assert second.reason == "already sent for 2026-11-21 at 2026-11-22 05:02:00 UTC by run run-a"
    assert ledger.done_days(EP) == {DAY}


def test_identical_payload_is_skipped_and_counts_as_the_days_sync(ledger):
    first = ledger.claim(req())
    ledger.finish(first.sync_id, Outcome.SUCCEEDED)
    nxt = ledger.claim(req(run_id="run-b", day=DAY + dt.timedelta(days=1), payload="h1"))
    assert not nxt.allowed and nxt.reason.startswith(
        "identical payload to the one sent for 2026-11-21"
    )
    assert ledger.done_days(EP) == {DAY, DAY + dt.timedelta(days=1)}


def test_failed_attempt_does_not_spend_the_day_and_resume_skips_accepted_chunks(ledger):
    first = ledger.claim(req())
    ledger.record_chunk(first.sync_id, 0, "c1")
    ledger.record_chunk(first.sync_id, 1, "c2")
    ledger.finish(first.sync_id, Outcome.FAILED)
    again = ledger.claim(req(run_id="run-b"))
    assert again.allowed
    assert again.accepted_chunks == {"c1", "c2"}
    assert "resuming, 2 chunk(s) already accepted" in again.reason


def test_an_attempt_in_progress_blocks_others_until_its_lease_expires(ledger, clock):
    first = ledger.claim(req())
    blocked = ledger.claim(req(run_id="run-b"))
    assert not blocked.allowed and "in progress: run run-a" in blocked.reason
    ledger.record_chunk(first.sync_id, 0, "c1")  # the holder crashed after one chunk
    clock.now += dt.timedelta(minutes=16)
    taken_over = ledger.claim(req(run_id="run-b"))
    assert taken_over.allowed and taken_over.accepted_chunks == {"c1"}


def test_dead_run_releases_its_claim_at_once(tmp_path, clock):
    ledger = CadenceLedger(
        make_engine(f"sqlite:///{tmp_path / 'l.db'}"),
        clock=clock,
        run_is_alive=lambda run_id: run_id != "run-a",
    )
    ledger.claim(req())
    assert ledger.claim(req(run_id="run-b")).allowed


def test_force_needs_a_reason_and_is_recorded(ledger):
    done = ledger.claim(req())
    ledger.finish(done.sync_id, Outcome.SUCCEEDED)
    with pytest.raises(ForceWithoutReasonError, match="needs a reason"):
        ledger.claim(req(run_id="run-b", kind=SyncKind.FORCED))
    forced = ledger.claim(req(run_id="run-b", kind=SyncKind.FORCED, reason="ERP re-export"))
    assert forced.allowed and forced.reason == "forced: ERP re-export"
    assert ledger.entries(EP)[-1]["kind"] == "forced"


def test_backfill_is_allowed_beside_the_daily_budget_but_not_twice_a_day(ledger, clock):
    daily = ledger.claim(req())
    ledger.finish(daily.sync_id, Outcome.SUCCEEDED)
    label = "2025-11-18..2026-11-17"
    backfill = ledger.claim(req(run_id="run-b", kind=SyncKind.BACKFILL, label=label, payload="y"))
    assert backfill.allowed
    ledger.finish(backfill.sync_id, Outcome.SUCCEEDED)
    again = ledger.claim(req(run_id="run-c", kind=SyncKind.BACKFILL, label=label, payload="y"))
    assert not again.allowed and "already backfilled today" in again.reason
    clock.now += dt.timedelta(days=1)
    assert ledger.claim(req(run_id="run-d", kind=SyncKind.BACKFILL, label=label)).allowed


def test_once_a_day_read_is_per_calendar_day(ledger, clock):
    ep = "pxm GET catalog"
    first = ledger.claim(req(op=Operation.READ, endpoint=ep, payload=None))
    ledger.finish(first.sync_id, Outcome.SUCCEEDED)
    second = ledger.claim(
        req(
            run_id="run-b",
            op=Operation.READ,
            endpoint=ep,
            payload=None,
            day=DAY + dt.timedelta(days=1),
        )
    )
    assert not second.allowed and "one read a day" in second.reason
    clock.now += dt.timedelta(days=1)
    assert ledger.claim(req(run_id="run-c", op=Operation.READ, endpoint=ep, payload=None)).allowed


def _claim_in_process(db: str, run_id: str, queue) -> None:  # noqa: ANN001
    ledger = CadenceLedger(make_engine(f"sqlite:///{db}"))
    queue.put((run_id, ledger.claim(req(run_id=run_id)).allowed))


def test_two_processes_claiming_at_once_exactly_one_passes(tmp_path: Path):
    db = str(tmp_path / "shared.db")
    make_engine(f"sqlite:///{db}")  # create tables first, as the instance would
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(db, f"run-{i}", queue)) for i in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert sorted(results.values()) == [False, False, False, True]


def _claim_in_process_url(url: str, run_id: str, queue) -> None:  # noqa: ANN001
    ledger = CadenceLedger(make_engine(url))
    queue.put((run_id, ledger.claim(req(run_id=run_id)).allowed))


def test_two_processes_on_postgres_exactly_one_passes(postgres_url):
    make_engine(postgres_url).dispose()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_claim_in_process_url, args=(postgres_url, f"run-{i}", queue))
        for i in range(4)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert sorted(results.values()) == [False, False, False, True]


def test_an_older_snapshot_never_overwrites_a_newer_one(ledger):
    inv = "paqtana PUT master_inventory"
    newer = ledger.claim(req(endpoint=inv, payload="new", run_id="run-b"))
    ledger.finish(newer.sync_id, Outcome.SUCCEEDED)
    late = SyncRequest(
        endpoint=inv,
        operation=Operation.WRITE,
        business_day=DAY - dt.timedelta(1),
        range_label="2026-11-20",
        kind=SyncKind.SENSOR,
        run_id="run-a",
        payload_hash="old",
        snapshot=True,
    )
    decision = ledger.claim(late)
    assert not decision.allowed
    assert decision.reason.startswith("superseded: the newer snapshot of 2026-11-21 was sent")


def test_attempts_at_other_days_of_a_merge_endpoint_run_side_by_side(ledger):
    assert ledger.claim(req(run_id="run-a")).allowed
    assert ledger.claim(req(run_id="run-b", day=DAY - dt.timedelta(days=1), payload="h0")).allowed
