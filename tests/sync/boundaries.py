"""Crash the sync engine at every boundary, then re-run it at once, as a person would.

A fake vendor that merges what it takes (as Paqtana and Pixee do) stands behind a fake sender;
the ledger is the real one on SQLite, wrapped so that the N-th boundary (before or after any
request, before or after any ledger write) raises `Killed`. From that moment the wrapped ledger
refuses every write, as a SIGKILLed process writes nothing more: the attempt stays
`in_progress` in the ledger and its run stays alive in the instance. The re-run starts
immediately; it waits for the dead attempt's lease to lapse (no heartbeat renews it) on a
clock that the wait itself moves forward.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from pipelines.core.cadence.ledger import (
    CadenceLedger,
    Operation,
    Outcome,
    SyncKind,
    SyncRequest,
    UnitStatus,
)
from pipelines.core.http import CallStats, RequestRecord
from pipelines.core.pixee.synced_state import SyncedProducts, mark_synced
from pipelines.core.state_db import make_engine
from pipelines.core.sync.engine import WaitPolicy, run_send
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer

ENDPOINT = "paqtana POST historical_demand"
LEASE = dt.timedelta(seconds=60)
ITEMS_PER_UNIT = 4
UNITS = 3


class Killed(BaseException):
    """Stands for SIGKILL: no `except Exception` catches it, and nothing is written after it."""


@dataclass
class KillSwitch:
    kill_at: int | None = None  # the boundary number that kills; None: a clean run
    seen: list[str] = field(default_factory=list)
    dead: bool = False

    def boundary(self, name: str) -> None:
        if self.dead:
            raise Killed(f"already dead at {name}")
        self.seen.append(name)
        if self.kill_at is not None and len(self.seen) - 1 == self.kill_at:
            self.dead = True
            raise Killed(name)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.now.timestamp()


class CrashingLedger:
    """The real ledger, with a boundary before and after each write."""

    def __init__(self, ledger: CadenceLedger, switch: KillSwitch) -> None:
        self.ledger = ledger
        self.switch = switch

    def _around(self, name: str, call, *args, **kwargs):  # noqa: ANN001, ANN202
        self.switch.boundary(f"before ledger {name}")
        result = call(*args, **kwargs)
        self.switch.boundary(f"after ledger {name}")
        return result

    def decide(self, req: SyncRequest):  # noqa: ANN201 - reads: no boundary
        return self.ledger.decide(req)

    def claim(self, req: SyncRequest):  # noqa: ANN201
        return self._around("claim", self.ledger.claim, req)

    def record_noop(self, req: SyncRequest, reason: str) -> None:
        self._around("noop", self.ledger.record_noop, req, reason)

    def record_blocked(self, req: SyncRequest, reason: str) -> None:
        self._around("blocked", self.ledger.record_blocked, req, reason)

    def record_unit(self, sync_id, index, unit_key, status, **kwargs) -> None:  # noqa: ANN001
        self._around(
            f"unit {index} {status.value}",
            self.ledger.record_unit,
            sync_id,
            index,
            unit_key,
            status,
            **kwargs,
        )

    def renew(self, sync_id: int) -> None:
        if not self.switch.dead:
            self.ledger.renew(sync_id)

    def finish(self, sync_id, outcome, requests=None, detail=None, **kwargs) -> None:  # noqa: ANN001
        self._around(
            f"finish {outcome.value}",
            self.ledger.finish,
            sync_id,
            outcome,
            requests,
            detail,
            **kwargs,
        )


@dataclass
class MergingVendor:
    """Holds the last body per item (a merge by key) and counts what it was sent."""

    held: dict[str, str] = field(default_factory=dict)
    received: Counter = field(default_factory=Counter)
    finishing: int = 0


class FakeSender:
    def __init__(self, vendor: MergingVendor, switch: KillSwitch) -> None:
        self.vendor = vendor
        self.switch = switch
        self.stats = CallStats()

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        self.switch.boundary(f"before request {unit.label}")
        for item, body in unit.payload.items():
            self.vendor.held[item] = body
        self.vendor.received[unit.key] += 1
        self.vendor.finishing += finishing
        self.stats.requests.append(RequestRecord("POST", ENDPOINT, 200, 1, 0.0, 1))
        self.switch.boundary(f"after request {unit.label}")
        return UnitAnswer(value={item: _digest(body) for item, body in unit.payload.items()})

    def refused_items(self, unit: Unit) -> list[str]:
        return list(unit.payload)


class SyncedItems:
    """Our state: each item the vendor took, written in the ledger's transaction."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        mark_synced(conn, answer.value, self.run_id)

    def send_succeeded(self, conn: sa.Connection) -> None:
        pass


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def plan() -> SendPlan:
    units = []
    for u in range(UNITS):
        payload = {f"{u}-{i}": f"body {u}-{i}" for i in range(ITEMS_PER_UNIT)}
        key = hashlib.sha256(repr(sorted(payload.items())).encode()).hexdigest()
        units.append(Unit(key, payload, len(payload), f"unit {u + 1}/{UNITS}"))
    return SendPlan(units, payload_hash="the day's payload")


def request(run_id: str) -> SyncRequest:
    return SyncRequest(
        endpoint=ENDPOINT,
        operation=Operation.WRITE,
        business_day=dt.date(2026, 11, 20),
        range_label="2026-11-20",
        kind=SyncKind.SCHEDULED,
        run_id=run_id,
        payload_hash="the day's payload",
    )


@dataclass(frozen=True)
class CrashOutcome:
    boundary: str
    items_held: int
    items_expected: int
    sends_per_unit: tuple[int, ...]  # requests the vendor took per unit, over both runs
    accepted_records: tuple[int, ...]  # ledger acceptances per unit
    finishing_sent: int
    sends_succeeded_today: int
    synced_not_held: int  # items our state marks synced that the vendor does not hold
    rerun: str

    @property
    def whole(self) -> bool:
        return (
            self.items_held == self.items_expected
            and self.accepted_records == (1,) * UNITS
            and self.finishing_sent <= 1
            and self.sends_succeeded_today == 1
            and self.synced_not_held == 0
        )


def _ledger(db: Path, clock: Clock) -> CadenceLedger:
    # the killed run stays STARTED in the instance: it is "alive", only its lease can lapse
    return CadenceLedger(
        make_engine(f"sqlite:///{db}"), clock=clock, lease=LEASE, run_is_alive=lambda _id: True
    )


def boundaries(folder: Path) -> list[str]:
    """Every boundary of a clean run, in order."""
    switch = KillSwitch()
    clock = Clock()
    ledger = CrashingLedger(_ledger(folder / "clean.db", clock), switch)
    run_send(
        plan(), request("clean"), ledger, FakeSender(MergingVendor(), switch), heartbeat_s=3600
    )
    return switch.seen


def crash_at(folder: Path, n: int) -> CrashOutcome:
    """Kill the first run at boundary `n`, re-run at once, and say what the vendor holds."""
    clock = Clock()
    db = folder / f"crash-{n}.db"
    vendor = MergingVendor()
    switch = KillSwitch(kill_at=n)
    wait = WaitPolicy(
        max_wait_s=2 * LEASE.total_seconds(), poll_s=5, sleep=clock.sleep, monotonic=clock.monotonic
    )
    try:
        run_send(
            plan(),
            request("run-1"),
            CrashingLedger(_ledger(db, clock), switch),
            FakeSender(vendor, switch),
            state=SyncedItems("run-1"),
            heartbeat_s=3600,
        )
    except Killed:
        pass
    else:
        raise AssertionError(f"boundary {n} was never reached")
    boundary = switch.seen[n]
    alive = KillSwitch()
    ledger = _ledger(db, clock)
    rerun = run_send(
        plan(),
        request("run-2"),
        CrashingLedger(ledger, alive),
        FakeSender(vendor, alive),
        state=SyncedItems("run-2"),
        wait=wait,
        heartbeat_s=3600,
    )
    entries = ledger.entries(ENDPOINT)
    accepted = Counter()
    for entry in entries:
        for unit in ledger.unit_records(entry["id"]):
            if unit["status"] == UnitStatus.ACCEPTED.value:
                accepted[unit["unit_key"]] += 1
    today = clock.now.date().isoformat()
    succeeded = [
        e for e in entries if e["outcome"] == Outcome.SUCCEEDED.value and e["sent_on"] == today
    ]
    synced = SyncedProducts(ledger.engine).hashes()
    units = plan().units
    return CrashOutcome(
        boundary=boundary,
        items_held=len(vendor.held),
        items_expected=UNITS * ITEMS_PER_UNIT,
        sends_per_unit=tuple(vendor.received[u.key] for u in units),
        accepted_records=tuple(accepted[u.key] for u in units),
        finishing_sent=vendor.finishing,
        sends_succeeded_today=len(succeeded),
        synced_not_held=len([i for i, h in synced.items() if _digest(vendor.held.get(i, "")) != h]),
        rerun=rerun.cadence,
    )


def table(outcomes: list[CrashOutcome]) -> str:
    header = (
        "| killed at | held | requests per unit | accepted per unit | finishing "
        "| sends today | whole |"
    )
    lines = [header, "|---|---:|---|---|---:|---:|---|"]
    for o in outcomes:
        lines.append(
            f"| {o.boundary} | {o.items_held}/{o.items_expected} | {o.sends_per_unit} "
            f"| {o.accepted_records} | {o.finishing_sent} | {o.sends_succeeded_today} "
            f"| {'yes' if o.whole else 'NO'} |"
        )
    return "\n".join(lines)
