"""The sync protocol, written once for every endpoint:

    plan  -> what would be sent, already diffed against what the vendor last accepted
    guard -> the safeguards, then the ledger's decision (budget, snapshot order, live attempts)
    send  -> each unit recorded as in flight, sent, and recorded as accepted the moment the
             vendor accepts it (with what that acceptance means for our state, in the same
             transaction), under a heartbeat that keeps the attempt live
    finish-> the outcome, per-item refusals, and the figures for the UI

Vendors differ only in the `Sender` (how a unit goes out, which items a refused unit carried)
and the `StateWriter` (what an accepted unit changes in our state). Dry-run and the sandbox are
transports and ledgers, not branches: the same steps run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

import sqlalchemy as sa

from pipelines.core.cadence.ledger import Decision, Outcome, SyncRequest, UnitStatus
from pipelines.core.http import AnswerClass, CallStats, VendorError, classify
from pipelines.core.sync.heartbeat import Heartbeat
from pipelines.core.sync.units import Safeguard, SendPlan, Unit, UnitAnswer


class SendOutcome(StrEnum):
    SENT = "sent"  # every unit answered; items may still have been refused one by one
    REFUSED = "refused"  # the vendor refused at least one whole unit's content
    NOTHING_TO_SEND = "nothing to send"
    SKIPPED = "skipped"  # the ledger said no (budget, superseded, identical)
    BLOCKED = "blocked"  # a safeguard stopped it before any request


class Sender(Protocol):
    """How one endpoint's units go out."""

    stats: CallStats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        """Send one unit. `finishing` marks the send's last request (Paqtana's
        auto_calculate); it is passed at most once per send, even across crashes."""
        ...

    def refused_items(self, unit: Unit) -> list[str]:
        """The item keys a unit carried, for the rejects when the vendor refused it whole."""
        ...


class StateWriter(Protocol):
    """What acceptance changes in our own state, written in the ledger's transaction."""

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None: ...

    def send_succeeded(self, conn: sa.Connection) -> None: ...


@runtime_checkable
class RefusalWriter(Protocol):
    """A StateWriter that also keeps what the vendor refused (Pixee's still-failing products):
    a whole unit's refusal is written in the transaction that records the unit refused."""

    def unit_refused(self, conn: sa.Connection, unit: Unit, items: dict[str, str]) -> None: ...


class Ledger(Protocol):
    def decide(self, req: SyncRequest) -> Decision: ...

    def claim(self, req: SyncRequest) -> Decision: ...

    def record_noop(self, req: SyncRequest, reason: str) -> None: ...

    def record_blocked(self, req: SyncRequest, reason: str) -> None: ...

    def record_unit(
        self,
        sync_id: int,
        index: int,
        unit_key: str,
        status: UnitStatus,
        *,
        finishing: bool = False,
        also: Callable[[sa.Connection], None] | None = None,
    ) -> None: ...

    def renew(self, sync_id: int) -> None: ...

    def finish(
        self,
        sync_id: int,
        outcome: Outcome,
        requests: int | None = None,
        detail: dict | None = None,
        *,
        also: Callable[[sa.Connection], None] | None = None,
    ) -> None: ...


class SendBlockedError(RuntimeError):
    """Another live attempt holds the endpoint and did not finish within the wait."""


@dataclass(frozen=True)
class WaitPolicy:
    """How long a send waits for another live attempt on its endpoint before failing (about a
    lease: a dead attempt's lease runs out in that time)."""

    max_wait_s: float = 90.0
    poll_s: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


@dataclass
class SendResult:
    outcome: SendOutcome
    cadence: str  # the decision, as a person reads it
    units: int = 0
    units_sent: int = 0
    units_already_accepted: int = 0
    units_refused: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # item key -> reason
    counts: dict[str, int] = field(default_factory=dict)
    answers: list[UnitAnswer] = field(default_factory=list)
    finishing: str = "not needed"  # what became of the send's finishing flag
    safeguards: list[Safeguard] = field(default_factory=list)

    @property
    def sent(self) -> bool:
        return self.outcome in (SendOutcome.SENT, SendOutcome.REFUSED)


class _NoState:
    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        pass

    def send_succeeded(self, conn: sa.Connection) -> None:
        pass


def run_send(
    plan: SendPlan,
    request: SyncRequest,
    ledger: Ledger,
    sender: Sender,
    *,
    state: StateWriter | None = None,
    wait: WaitPolicy | None = None,
    log: Callable[[str], None] = lambda _message: None,
    heartbeat_s: float = 15.0,
) -> SendResult:
    """Run one send through the protocol. Raises SendBlockedError when another live attempt
    holds the endpoint past the wait, VendorError when the vendor could not take the send (the
    ledger then records it FAILED, and the next attempt today resumes it); a refusal of content
    is not raised but returned (`SendOutcome.REFUSED`, with the refused items)."""
    state = state or _NoState()
    if plan.superseded and not request.older_snapshot_reason:
        reason = f"superseded: {plan.superseded}"
        ledger.record_noop(request, reason)
        log(f"{request.endpoint}: nothing sent: {reason}")
        return SendResult(SendOutcome.NOTHING_TO_SEND, f"nothing sent: {reason}")
    blocking = [s for s in plan.safeguards if not s.passed]
    if blocking and request.force_reason is None:
        reason = "; ".join(f"{s.name}: {s.reason}" for s in blocking)
        ledger.record_blocked(request, reason)
        log(f"{request.endpoint}: stopped by safeguard, nothing sent: {reason}")
        return SendResult(
            SendOutcome.BLOCKED,
            f"blocked: {reason} (lift it for one run with force on this endpoint and a reason)",
            units=len(plan.units),
            safeguards=plan.safeguards,
        )
    if not plan.units:
        ledger.record_noop(request, plan.nothing_to_send)
        log(f"{request.endpoint}: nothing sent: {plan.nothing_to_send}")
        return SendResult(
            SendOutcome.NOTHING_TO_SEND,
            f"nothing sent: {plan.nothing_to_send}",
            safeguards=plan.safeguards,
        )
    decision = _claim(request, ledger, wait or WaitPolicy(), log)
    log(f"{request.endpoint}: {decision.label}")
    if not decision.allowed:
        return SendResult(
            SendOutcome.SKIPPED,
            decision.label,
            units=len(plan.units),
            safeguards=plan.safeguards,
        )
    cadence = decision.label
    if blocking:
        cadence += "; safeguards lifted by force: " + ", ".join(s.name for s in blocking)
    result = SendResult(
        SendOutcome.SENT, cadence, units=len(plan.units), safeguards=plan.safeguards
    )
    assert decision.sync_id is not None
    with Heartbeat(lambda: ledger.renew(decision.sync_id), heartbeat_s, log):
        _send_units(plan, decision, ledger, sender, state, result, log)
    return result


def _claim(request: SyncRequest, ledger: Ledger, wait: WaitPolicy, log: Callable) -> Decision:
    """The ledger's decision, waiting (bounded) while another live attempt holds the endpoint:
    a dead one's lease runs out within the wait; a live one that outlasts it fails this step.
    Another run may claim between our look and our claim (two runs of one day started at once):
    that run is waited for like one found by the look, not a reason to fail at once."""
    started = wait.monotonic()
    while True:
        out_of_time = wait.monotonic() - started >= wait.max_wait_s
        decision = ledger.decide(request)
        if decision.blocked_by is None or out_of_time:
            decision = ledger.claim(request)
            if decision.blocked_by is None:
                return decision
            if out_of_time:
                raise SendBlockedError(
                    f"{request.endpoint}: not sent: {decision.reason}. Waited "
                    f"{wait.monotonic() - started:.0f}s; re-run after that run ends (its lease "
                    "runs out within a minute if it died)"
                )
        log(f"{request.endpoint}: waiting: {decision.reason}")
        wait.sleep(wait.poll_s)


def _send_units(
    plan: SendPlan,
    decision: Decision,
    ledger: Ledger,
    sender: Sender,
    state: StateWriter,
    result: SendResult,
    log: Callable[[str], None],
) -> None:
    sync_id = decision.sync_id
    assert sync_id is not None
    todo = [(i, u) for i, u in enumerate(plan.units) if u.key not in decision.accepted_units]
    result.units_already_accepted = len(plan.units) - len(todo)
    finishing_left = not decision.finishing_sent
    if decision.finishing_sent:
        result.finishing = (
            "already sent by an earlier attempt of this send (accepted or in flight when it "
            "stopped); not repeated"
        )
    requests_before = len(sender.stats.requests)
    try:
        for n, (index, unit) in enumerate(todo):
            # The flag (a recalculation at the vendor) goes with the last request only when
            # every unit before it was taken: held back, it goes with the refused data's re-send.
            finishing = finishing_left and n == len(todo) - 1 and not result.units_refused
            ledger.record_unit(sync_id, index, unit.key, UnitStatus.SENDING, finishing=finishing)
            try:
                answer = sender.send(unit, finishing=finishing)
            except VendorError as exc:
                if classify(exc) is not AnswerClass.CONTENT_REFUSED:
                    raise
                reason = exc.detail or str(exc)
                items = {item: reason for item in sender.refused_items(unit)}

                def refused(conn: sa.Connection, unit: Unit = unit, items: dict = items) -> None:
                    if isinstance(state, RefusalWriter):
                        state.unit_refused(conn, unit, items)

                ledger.record_unit(sync_id, index, unit.key, UnitStatus.REFUSED, also=refused)
                result.units_refused += 1
                result.refused |= items
                if finishing:
                    result.finishing = f"not applied: the request carrying it was refused ({exc})"
                log(f"{unit.label or unit.key[:12]} refused: {exc}")
                continue

            def accepted(conn: sa.Connection, unit: Unit = unit, answer: UnitAnswer = answer):
                state.unit_accepted(conn, unit, answer)

            ledger.record_unit(sync_id, index, unit.key, UnitStatus.ACCEPTED, also=accepted)
            result.units_sent += 1
            result.refused |= answer.refused
            result.answers.append(answer)
            for name, count in answer.counts.items():
                result.counts[name] = result.counts.get(name, 0) + count
            if finishing:
                result.finishing = f"sent with {unit.label or 'the last request'}"
            log(
                f"{unit.label or unit.key[:12]} accepted ({unit.items} item(s)"
                + (f", {len(answer.refused)} refused" if answer.refused else "")
                + (", finishing" if finishing else "")
                + ")"
            )
    except BaseException:
        ledger.finish(sync_id, Outcome.FAILED, len(sender.stats.requests) - requests_before)
        raise
    if result.units_refused:
        result.outcome = SendOutcome.REFUSED
        if finishing_left and result.finishing == "not needed":
            result.finishing = (
                f"held back: {result.units_refused} request(s) refused; it goes with their "
                "re-send, once the vendor takes them"
            )
        ledger.finish(sync_id, Outcome.FAILED, len(sender.stats.requests) - requests_before)
        return
    ledger.finish(
        sync_id,
        Outcome.SUCCEEDED,
        len(sender.stats.requests) - requests_before,
        also=state.send_succeeded,
    )
