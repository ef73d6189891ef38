"""The cadence ledger's rules across calendar days, on SQLite files, PostgreSQL and processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.core.cadence.endpoints import Endpoint
from pipelines.core.cadence.ledger import (
    CadenceLedger,
    ForceWithoutReasonError,
    Operation,
    Outcome,
    SyncKind,
    SyncRequest,
    UnitStatus,
)
from pipelines.core.state_db import make_engine

DAY = dt.date(2026, 11, 21)
EP = Endpoint.PAQTANA_HISTORICAL_DEMAND.value
INV = Endpoint.PAQTANA_MASTER_INVENTORY.value
PXM = Endpoint.PXM_CATALOG_READ.value


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 5, 2, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def next_morning(self) -> None:
        self.now += dt.timedelta(days=1)


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
    as_of=None,
    older=None,
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
        snapshot=endpoint == INV,
        data_as_of=as_of,
        older_snapshot_reason=older,
    )


def sent(ledger: CadenceLedger, request: SyncRequest) -> None:
    decision = ledger.claim(request)
    assert decision.allowed, decision.reason
    ledger.finish(decision.sync_id, Outcome.SUCCEEDED, requests=1)


def test_one_send_per_endpoint_per_calendar_day_whatever_business_day_it_is_for(ledger, clock):
    sent(ledger, req())
    # the same morning: a manual run of the day before, a sensor run of another day
    for n, day in enumerate((DAY - dt.timedelta(days=1), DAY, DAY - dt.timedelta(days=2))):
        again = ledger.claim(req(run_id=f"run-{n}", day=day, payload=f"other-{n}"))
        assert not again.allowed
        assert again.reason.startswith("already sent today at 2026-11-22 05:02:00 UTC by run run-a")
    clock.next_morning()
    assert ledger.claim(req(run_id="run-next", payload="h2")).allowed


def test_eight_calendar_days_take_at_most_one_accepted_send_each(ledger, clock):
    """Three attempts a morning (schedule, a manual re-run, the sensor), eight mornings."""
    for morning in range(8):
        for n, kind in enumerate((SyncKind.SCHEDULED, SyncKind.MANUAL, SyncKind.SENSOR)):
            decision = ledger.claim(req(run_id=f"m{morning}-{n}", kind=kind, payload=f"{morning}"))
            if decision.allowed:
                ledger.finish(decision.sync_id, Outcome.SUCCEEDED)
        clock.next_morning()
    per_day: dict[str, int] = {}
    for e in ledger.entries(EP):
        if e["outcome"] == Outcome.SUCCEEDED.value:
            per_day[e["sent_on"]] = per_day.get(e["sent_on"], 0) + 1
    assert len(per_day) == 8 and set(per_day.values()) == {1}


def test_identical_payload_is_not_sent_and_counts_as_held(ledger, clock):
    sent(ledger, req())
    clock.next_morning()
    nxt = ledger.claim(req(run_id="run-b", day=DAY + dt.timedelta(days=1), payload="h1"))
    assert not nxt.allowed and nxt.outcome is Outcome.NOTHING_TO_SEND
    assert nxt.reason.startswith("identical to the payload the vendor accepted at 2026-11-22")
    assert ledger.done_days(EP) == {DAY, DAY + dt.timedelta(days=1)}


def test_a_failed_send_is_resumed_the_same_day_with_only_the_units_not_accepted(ledger):
    first = ledger.claim(req())
    ledger.record_unit(first.sync_id, 0, "c1", UnitStatus.ACCEPTED)
    ledger.record_unit(first.sync_id, 1, "c2", UnitStatus.ACCEPTED)
    ledger.record_unit(first.sync_id, 2, "c3", UnitStatus.SENDING, finishing=True)
    ledger.finish(first.sync_id, Outcome.FAILED)
    again = ledger.claim(req(run_id="run-b", payload="changed since"))
    assert again.allowed
    assert again.accepted_units == {"c1", "c2"}
    # the flag was in flight when the attempt stopped: it is never sent twice
    assert again.finishing_sent
    assert "resuming, 2 unit(s) already accepted" in again.reason


def test_a_refused_unit_does_not_count_as_accepted_nor_its_flag_as_sent(ledger):
    first = ledger.claim(req())
    ledger.record_unit(first.sync_id, 0, "c1", UnitStatus.SENDING, finishing=True)
    ledger.record_unit(first.sync_id, 0, "c1", UnitStatus.REFUSED)
    ledger.finish(first.sync_id, Outcome.FAILED)
    again = ledger.claim(req(run_id="run-b"))
    assert again.allowed and again.accepted_units == set() and not again.finishing_sent


def test_an_unfinished_send_of_yesterday_is_not_resumed_today(ledger, clock):
    first = ledger.claim(req())
    ledger.record_unit(first.sync_id, 0, "c1", UnitStatus.ACCEPTED)
    ledger.finish(first.sync_id, Outcome.FAILED)
    clock.next_morning()
    today = ledger.claim(req(run_id="run-b"))
    assert today.allowed and today.accepted_units == set()  # today's send carries it all


def test_a_live_attempt_blocks_any_other_on_the_endpoint_until_its_lease_lapses(ledger, clock):
    first = ledger.claim(req())
    blocked = ledger.claim(req(run_id="run-b", day=DAY - dt.timedelta(days=3), payload="x"))
    assert not blocked.allowed and "in progress: run run-a" in blocked.reason
    assert blocked.blocked_by is not None and blocked.blocked_by.run_id == "run-a"
    ledger.record_unit(first.sync_id, 0, "c1", UnitStatus.ACCEPTED)  # then the holder died
    clock.now += ledger.lease + dt.timedelta(seconds=1)
    taken_over = ledger.claim(req(run_id="run-b"))
    assert taken_over.allowed and taken_over.accepted_units == {"c1"}


def test_a_heartbeat_keeps_a_long_attempt_live(ledger, clock):
    first = ledger.claim(req())
    for _ in range(5):
        clock.now += ledger.lease / 2
        ledger.renew(first.sync_id)
    assert ledger.claim(req(run_id="run-b")).blocked_by is not None


def test_decide_records_nothing(ledger):
    assert ledger.decide(req()).allowed
    assert ledger.entries() == []


def test_dead_run_releases_its_claim_at_once(tmp_path, clock):
    ledger = CadenceLedger(
        make_engine(f"sqlite:///{tmp_path / 'l.db'}"),
        clock=clock,
        run_is_alive=lambda run_id: run_id != "run-a",
    )
    ledger.claim(req())
    assert ledger.claim(req(run_id="run-b")).allowed


def test_force_needs_a_reason_lifts_the_budget_and_is_recorded(ledger):
    sent(ledger, req())
    with pytest.raises(ForceWithoutReasonError, match="needs a reason"):
        ledger.claim(req(run_id="run-b", kind=SyncKind.FORCED))
    forced = ledger.claim(req(run_id="run-b", kind=SyncKind.FORCED, reason="ERP re-export"))
    assert forced.allowed and forced.reason == "forced: ERP re-export"
    assert ledger.entries(EP)[-1]["kind"] == "forced"


def test_an_older_snapshot_never_replaces_a_newer_one_even_forced(ledger, clock):
    sent(ledger, req(endpoint=INV, payload="new", as_of=DAY))
    clock.next_morning()
    old = req(endpoint=INV, payload="old", as_of=DAY - dt.timedelta(days=2), run_id="run-b")
    decision = ledger.claim(old)
    assert not decision.allowed
    assert decision.reason.startswith(
        "superseded: the vendor holds the newer snapshot of 2026-11-21"
    )
    forced = ledger.claim(
        req(
            endpoint=INV,
            payload="old",
            as_of=DAY - dt.timedelta(days=2),
            run_id="run-c",
            kind=SyncKind.FORCED,
            reason="re-run",
        )
    )
    assert not forced.allowed and "forced or not" in forced.reason
    on_purpose = ledger.claim(
        req(
            endpoint=INV,
            payload="old",
            as_of=DAY - dt.timedelta(days=2),
            run_id="run-d",
            older="the 21st's export was corrupt",
        )
    )
    assert on_purpose.allowed
    assert "an older snapshot on purpose: the 21st's export was corrupt" in on_purpose.reason


def test_a_newer_snapshot_the_vendor_took_in_part_supersedes_an_older_one(ledger, clock):
    """A catalog send that stopped after some batches were accepted: the vendor holds those
    products as the newer drop has them, so the older drop must not overwrite them."""
    newer = ledger.claim(req(endpoint=INV, payload="new", as_of=DAY))
    ledger.record_unit(newer.sync_id, 0, "batch-1", UnitStatus.ACCEPTED)
    ledger.record_unit(newer.sync_id, 1, "batch-2", UnitStatus.REFUSED)
    ledger.finish(newer.sync_id, Outcome.FAILED, requests=2)
    clock.next_morning()
    older = dict(endpoint=INV, payload="old", as_of=DAY - dt.timedelta(days=1))
    forced = ledger.claim(req(run_id="run-b", kind=SyncKind.FORCED, reason="re-run", **older))
    assert not forced.allowed
    assert forced.reason.startswith("superseded: the vendor holds the newer snapshot of 2026-11-21")
    # a newer send that reached the vendor with nothing accepted holds nothing
    nothing = ledger.claim(
        req(run_id="run-c", endpoint=INV, payload="x", as_of=DAY + dt.timedelta(1))
    )
    ledger.record_unit(nothing.sync_id, 0, "batch-1", UnitStatus.REFUSED)
    ledger.finish(nothing.sync_id, Outcome.FAILED, requests=1)
    clock.next_morning()
    assert ledger.claim(req(run_id="run-d", endpoint=INV, payload="y", as_of=DAY)).allowed


def test_backfill_is_beside_the_daily_budget_but_the_same_range_not_twice_a_day(ledger, clock):
    sent(ledger, req())
    label = "2025-11-18..2026-11-17"
    backfill = req(run_id="run-b", kind=SyncKind.BACKFILL, label=label, payload="y")
    sent(ledger, backfill)
    again = ledger.claim(req(run_id="run-c", kind=SyncKind.BACKFILL, label=label, payload="y"))
    assert not again.allowed and "already backfilled today" in again.reason
    clock.next_morning()
    assert ledger.claim(req(run_id="run-d", kind=SyncKind.BACKFILL, label=label)).allowed


def test_one_read_a_day_and_force_lifts_it(ledger, clock):
    read = req(op=Operation.READ, endpoint=PXM, payload=None)
    sent(ledger, read)
    second = ledger.claim(
        req(
            run_id="run-b", op=Operation.READ, endpoint=PXM, payload=None, day=DAY + dt.timedelta(1)
        )
    )
    assert not second.allowed and "one read a day" in second.reason
    forced = ledger.claim(
        req(
            run_id="run-f",
            op=Operation.READ,
            endpoint=PXM,
            payload=None,
            kind=SyncKind.FORCED,
            reason="PXM fixed a catalog error",
        )
    )
    assert forced.allowed
    ledger.finish(forced.sync_id, Outcome.SUCCEEDED)
    clock.next_morning()
    assert ledger.claim(req(run_id="run-c", op=Operation.READ, endpoint=PXM, payload=None)).allowed


def test_an_older_database_gains_the_new_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    with old.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE erp_sync_ledger (id INTEGER PRIMARY KEY, endpoint VARCHAR(200) NOT NULL,"
            " operation VARCHAR(10) NOT NULL, business_day VARCHAR(10) NOT NULL, range_label"
            " VARCHAR(30) NOT NULL, sent_on VARCHAR(10) NOT NULL, kind VARCHAR(20) NOT NULL,"
            " payload_hash VARCHAR(64), requests INTEGER NOT NULL, outcome VARCHAR(20) NOT NULL,"
            " reason TEXT, run_id VARCHAR(64) NOT NULL, started_at DATETIME NOT NULL,"
            " lease_until DATETIME, finished_at DATETIME, detail TEXT)"
        )
    ledger = CadenceLedger(make_engine(url))
    sent(ledger, req(endpoint=INV, as_of=DAY))
    assert ledger.last_accepted(INV)["data_as_of"] == DAY.isoformat()


def _claim_in_process(url: str, run_id: str, queue) -> None:  # noqa: ANN001
    ledger = CadenceLedger(make_engine(url))
    queue.put((run_id, ledger.claim(req(run_id=run_id)).allowed))


def _four_processes_claim_at_once(url: str) -> list[bool]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(url, f"run-{i}", queue)) for i in range(4)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    return sorted(results.values())


def test_two_processes_claiming_at_once_exactly_one_passes(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    make_engine(url)  # create tables first, as the instance would
    assert _four_processes_claim_at_once(url) == [False, False, False, True]


def test_two_processes_on_postgres_exactly_one_passes(postgres_url):
    make_engine(postgres_url).dispose()
    assert _four_processes_claim_at_once(postgres_url) == [False, False, False, True]
