"""The sync engine's protocol with a fake vendor: one classification of answers, dry-run as a
ledger that records nothing, a refused unit that does not stop the others, safeguards, and a
send blocked by a live attempt that waits, then fails saying when to retry."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pipelines.core.cadence.ledger import CadenceLedger, Outcome, SyncKind, SyncRequest
from pipelines.core.http import AnswerClass, VendorError, classify_status
from pipelines.core.sync.dry_run import DryRunLedger
from pipelines.core.sync.engine import SendBlockedError, SendOutcome, WaitPolicy, run_send
from pipelines.core.sync.heartbeat import Heartbeat
from pipelines.core.sync.units import Safeguard, SendPlan, Unit
from tests.sync.boundaries import (
    Clock,
    FakeSender,
    KillSwitch,
    MergingVendor,
    _ledger,
    plan,
    request,
)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599, None])
def test_transient_answers_are_never_a_refusal_of_the_content(status):
    assert classify_status(status) is AnswerClass.RETRYABLE


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, AnswerClass.CONTENT_REFUSED),
        (404, AnswerClass.CONTENT_REFUSED),
        (409, AnswerClass.CONTENT_REFUSED),
        (413, AnswerClass.CONTENT_REFUSED),
        (422, AnswerClass.CONTENT_REFUSED),
        (401, AnswerClass.AUTH),
        (403, AnswerClass.AUTH),
        (302, AnswerClass.FATAL),
    ],
)
def test_one_classification_for_every_vendor(status, kind):
    assert classify_status(status) is kind
    assert classify_status(200, unreadable=True) is AnswerClass.FATAL


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock):
    return _ledger(tmp_path / "ledger.db", clock)


def sender(vendor=None):  # noqa: ANN001, ANN201
    return FakeSender(vendor or MergingVendor(), KillSwitch())


def test_a_send_records_each_unit_and_the_finishing_flag_rides_on_the_last(ledger):
    vendor = MergingVendor()
    result = run_send(plan(), request("run-1"), ledger, sender(vendor), heartbeat_s=3600)
    assert result.outcome is SendOutcome.SENT and result.units_sent == 3
    assert vendor.finishing == 1 and result.finishing == "sent with unit 3/3"
    again = run_send(plan(), request("run-2"), ledger, sender(vendor), heartbeat_s=3600)
    assert again.outcome is SendOutcome.SKIPPED and "already sent today" in again.cadence


def test_dry_run_decides_like_live_and_leaves_the_ledger_untouched(ledger):
    vendor = MergingVendor()
    dry = run_send(plan(), request("dry"), DryRunLedger(ledger), sender(vendor), heartbeat_s=3600)
    assert dry.outcome is SendOutcome.SENT and dry.cadence.startswith("dry-run: written")
    assert ledger.entries() == []
    run_send(plan(), request("live"), ledger, sender(), heartbeat_s=3600)
    after = run_send(plan(), request("dry-2"), DryRunLedger(ledger), sender(), heartbeat_s=3600)
    assert after.outcome is SendOutcome.SKIPPED
    assert after.cadence.startswith("dry-run: nothing written, ledger untouched (a live run")
    assert len(ledger.entries()) == 1


class RefusingSender(FakeSender):
    def send(self, unit: Unit, *, finishing: bool):  # noqa: ANN201
        if unit.label == "unit 2/3":
            raise VendorError("Paqtana", "POST", "historical_demand", 422, "bad quantity")
        return super().send(unit, finishing=finishing)


def test_a_refused_unit_does_not_stop_the_others_and_holds_the_flag_back(ledger):
    vendor = MergingVendor()
    result = run_send(
        plan(), request("run-1"), ledger, RefusingSender(vendor, KillSwitch()), heartbeat_s=3600
    )
    assert result.outcome is SendOutcome.REFUSED
    assert (result.units_sent, result.units_refused) == (2, 1)
    assert set(result.refused) == {f"1-{i}" for i in range(4)}
    assert set(result.refused.values()) == {"bad quantity"}
    assert vendor.finishing == 0 and result.finishing.startswith("held back")
    fixed = run_send(plan(), request("run-2"), ledger, sender(vendor), heartbeat_s=3600)
    assert (fixed.units_sent, fixed.units_already_accepted) == (1, 2)
    assert vendor.finishing == 1  # once, after the last data


class RefusalsKept:
    """A state writer that also keeps refusals, as the Pixee writer does."""

    def __init__(self) -> None:
        self.refused: dict[str, str] = {}

    def unit_accepted(self, conn, unit, answer) -> None:  # noqa: ANN001
        pass

    def send_succeeded(self, conn) -> None:  # noqa: ANN001
        pass

    def unit_refused(self, conn, unit, items) -> None:  # noqa: ANN001
        assert conn.in_transaction()  # the one that records the unit refused
        self.refused |= items


def test_a_whole_unit_refused_reaches_a_writer_that_keeps_refusals(ledger):
    state = RefusalsKept()
    result = run_send(
        plan(),
        request("run-1"),
        ledger,
        RefusingSender(MergingVendor(), KillSwitch()),
        state=state,
        heartbeat_s=3600,
    )
    assert state.refused == result.refused == {f"1-{i}": "bad quantity" for i in range(4)}
    sync_id = ledger.entries()[-1]["id"]
    assert [u["status"] for u in ledger.unit_records(sync_id)] == [
        "accepted",
        "refused",
        "accepted",
    ]


class UnavailableSender(FakeSender):
    def send(self, unit: Unit, *, finishing: bool):  # noqa: ANN201
        raise VendorError("Pixee", "POST", "/products/batch", 503, "maintenance")


def test_a_vendor_that_cannot_answer_fails_the_send_and_spends_no_budget(ledger):
    with pytest.raises(VendorError, match="HTTP 503"):
        run_send(plan(), request("run-1"), ledger, UnavailableSender(MergingVendor(), KillSwitch()))
    assert ledger.entries()[-1]["outcome"] == "failed"
    assert run_send(plan(), request("run-2"), ledger, sender(), heartbeat_s=3600).sent


def test_a_failed_safeguard_stops_the_send_unless_forced(ledger):
    guarded = plan()
    guarded.safeguards = [Safeguard("removed_share", False, "40% of items would be removed")]
    vendor = MergingVendor()
    stopped = run_send(guarded, request("run-1"), ledger, sender(vendor), heartbeat_s=3600)
    assert stopped.outcome is SendOutcome.BLOCKED and vendor.received == {}
    assert "removed_share: 40% of items would be removed" in stopped.cadence
    assert ledger.entries()[-1]["outcome"] == "blocked"
    forced = request("run-2")
    forced = type(forced)(**{**vars(forced), "kind": SyncKind.FORCED, "force_reason": "known"})
    lifted = run_send(guarded, forced, ledger, sender(vendor), heartbeat_s=3600)
    assert lifted.sent and "safeguards lifted by force: removed_share" in lifted.cadence


def test_nothing_to_send_makes_no_call(ledger):
    empty = SendPlan([], nothing_to_send="no new or changed product")
    result = run_send(empty, request("run-1"), ledger, sender(), heartbeat_s=3600)
    assert result.outcome is SendOutcome.NOTHING_TO_SEND
    assert result.cadence == "nothing sent: no new or changed product"


def test_a_send_blocked_by_a_live_attempt_waits_then_fails_saying_when_to_retry(ledger, clock):
    holder = ledger.claim(request("run-live"))

    def sleep_while_the_holder_beats(seconds: float) -> None:
        clock.sleep(seconds)
        ledger.renew(holder.sync_id)

    wait = WaitPolicy(
        max_wait_s=30, poll_s=5, sleep=sleep_while_the_holder_beats, monotonic=clock.monotonic
    )
    with pytest.raises(SendBlockedError) as raised:
        run_send(plan(), request("run-2"), ledger, sender(), wait=wait, heartbeat_s=3600)
    message = str(raised.value)
    assert "another attempt is in progress: run run-live since 2026-11-23 05:00:00 UTC" in message
    assert "Waited 30s; re-run after that run ends" in message


class ClaimedBetweenLookAndClaim:
    """The real ledger, where another run claims the endpoint right after our first look: two
    runs of one day started at once, both looking before either claims."""

    def __init__(self, ledger: CadenceLedger) -> None:
        self.ledger = ledger
        self.other = None

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.ledger, name)

    def decide(self, req: SyncRequest):  # noqa: ANN201
        decision = self.ledger.decide(req)
        if self.other is None:
            self.other = self.ledger.claim(request("run-other"))
        return decision


def test_a_send_claimed_by_another_run_between_its_look_and_its_claim_waits_for_it(ledger, clock):
    raced = ClaimedBetweenLookAndClaim(ledger)

    def sleep_while_the_other_sends(seconds: float) -> None:
        clock.sleep(seconds)
        ledger.finish(raced.other.sync_id, Outcome.SUCCEEDED, requests=3)

    wait = WaitPolicy(
        max_wait_s=90, poll_s=5, sleep=sleep_while_the_other_sends, monotonic=clock.monotonic
    )
    messages = []
    result = run_send(
        plan(), request("run-2"), raced, sender(), wait=wait, log=messages.append, heartbeat_s=3600
    )
    assert raced.other.allowed  # the other run did claim after our look said free
    assert result.outcome is SendOutcome.SKIPPED
    assert "already sent today" in result.cadence and "run run-other" in result.cadence
    assert any("waiting: another attempt is in progress: run run-other" in m for m in messages)


def test_a_dead_attempt_frees_its_endpoint_within_one_lease(ledger, clock):
    ledger.claim(request("run-dead"))  # then SIGKILL: nobody renews its lease
    wait = WaitPolicy(max_wait_s=90, poll_s=5, sleep=clock.sleep, monotonic=clock.monotonic)
    started = clock.now
    result = run_send(plan(), request("run-2"), ledger, sender(), wait=wait, heartbeat_s=3600)
    assert result.sent
    assert clock.now - started <= ledger.lease + dt.timedelta(seconds=5)


def test_the_heartbeat_beats_until_the_block_ends():
    beats = []
    with Heartbeat(lambda: beats.append(time.monotonic()), 0.05, print):
        time.sleep(0.3)
    count = len(beats)
    time.sleep(0.15)
    assert count >= 3 and len(beats) == count
