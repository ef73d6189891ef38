"""The ledger of every external call, and the rules that decide whether a send may go out.

The vendors limit how often they are called per CALENDAR day (in SYNC_TIMEZONE), whatever the
data; the rules below are checked inside one serialised transaction, so two runs cannot both
pass:

- a write endpoint takes at most ONE send a calendar day. A send may be several requests (demand
  chunks, Pixee batches); a send that failed part-way is resumed by the next attempt of the same
  day, which is told which units were already accepted and sends only the rest;
- a read endpoint takes at most one successful read a calendar day;
- an attempt still live (its lease renewed by a heartbeat, its run alive) blocks any other on the
  same endpoint, whatever day or range it is for;
- a snapshot (the master inventory, the catalog) older than one the vendor took, whole or in
  part, is never sent, forced or not; only `older_snapshot_reason` (a separate, recorded choice)
  does;
- a payload identical to the endpoint's last accepted one is not sent (nothing new);
- the demand history backfill is the initial-load exception: beside the daily budget, but the
  same range twice on one calendar day is refused;
- `force` (with a reason, for the endpoints it names) lifts the daily budget and the identical
  rule for one run, and is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pipelines.core.cadence.endpoints import Operation
from pipelines.core.state_db import lock_key, metadata

__all__ = ["Operation"]


class SyncKind(StrEnum):
    SCHEDULED = "scheduled"
    SENSOR = "sensor"
    MANUAL = "manual"
    BACKFILL = "backfill"
    FORCED = "forced"


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOTHING_TO_SEND = "skipped_identical"  # the vendor already holds it: no call needed
    BLOCKED = "blocked"  # a safeguard stopped the send before any request


class UnitStatus(StrEnum):
    SENDING = "sending"  # recorded just before the request: it may or may not have arrived
    ACCEPTED = "accepted"
    REFUSED = "refused"  # the vendor refused the unit's content (a 4xx about what was sent)


class ForceWithoutReasonError(ValueError):
    pass


syncs = sa.Table(
    "erp_sync_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(200), nullable=False, index=True),
    sa.Column("operation", sa.String(10), nullable=False),
    sa.Column("business_day", sa.String(10), nullable=False),  # the run's (last) partition
    sa.Column("range_label", sa.String(30), nullable=False),
    sa.Column("sent_on", sa.String(10), nullable=False),  # calendar day of the attempt (tz)
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("requests", sa.Integer, nullable=False, default=0),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("detail", sa.Text),
    # The drop day whose data the send carries (a snapshot's day; demand's newest day).
    sa.Column("data_as_of", sa.String(10)),
)

units = sa.Table(
    "erp_sync_units",
    metadata,
    sa.Column("sync_id", sa.Integer, sa.ForeignKey("erp_sync_ledger.id"), primary_key=True),
    sa.Column("unit_key", sa.String(64), primary_key=True),
    sa.Column("unit_index", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # The request carried the send's finishing flag (Paqtana's auto_calculate).
    sa.Column("finishing", sa.Boolean, nullable=False, default=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class SyncRequest:
    endpoint: str  # an Endpoint value, e.g. "paqtana PUT master_inventory"
    operation: Operation
    business_day: dt.date  # last day of the run's partition range
    range_label: str
    kind: SyncKind
    run_id: str
    payload_hash: str | None = None
    # Set only when the run's `force` applies to this endpoint.
    force_reason: str | None = None
    # A full snapshot: an older drop's must never replace a newer one.
    snapshot: bool = False
    data_as_of: dt.date | None = None
    # A person's explicit, recorded choice to send an older snapshot over a newer one.
    older_snapshot_reason: str | None = None


@dataclass(frozen=True)
class LiveAttempt:
    run_id: str
    started_at: dt.datetime
    lease_until: dt.datetime


@dataclass
class Decision:
    allowed: bool
    reason: str
    sync_id: int | None = None
    outcome: Outcome | None = None  # what a refusal was recorded as
    # Units accepted by earlier attempts of this send (resume), and whether one of them carried
    # the finishing flag (never sent twice).
    accepted_units: set[str] = field(default_factory=set)
    finishing_sent: bool = False
    blocked_by: LiveAttempt | None = None
    dry_run: bool = False  # decided for a dry-run: nothing was recorded

    @property
    def label(self) -> str:
        if self.dry_run:
            return f"dry-run: {self.reason}"
        return ("sent" if self.allowed else "skipped") + f": {self.reason}"


@dataclass(frozen=True)
class _Refusal:
    outcome: Outcome
    reason: str
    blocked_by: LiveAttempt | None = None


def _fmt(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


Writes = Callable[[sa.Connection], None]


class CadenceLedger:
    """The rules above over the `erp_sync_ledger` table. `clock` is the one place time comes
    from (drills and tests move it); `lease` is how long an attempt stays live without a
    heartbeat."""

    def __init__(
        self,
        engine: sa.Engine,
        timezone: str = "UTC",
        clock: Callable[[], dt.datetime] | None = None,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        run_is_alive: Callable[[str], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.lease = lease
        self.run_is_alive = run_is_alive or (lambda _run_id: True)

    def now(self) -> dt.datetime:
        return self.clock().astimezone(self.tz)

    def today(self) -> dt.date:
        """The calendar day the budget counts in."""
        return self.now().date()

    # -- deciding ---------------------------------------------------------------------------

    def decide(self, req: SyncRequest) -> Decision:
        """What `claim` would decide now, recording nothing (dry-run, and waiting on a live
        attempt)."""
        _require_reason(req)
        with self.engine.connect() as conn:
            return self._decide(conn, req, self.now())

    def claim(self, req: SyncRequest) -> Decision:
        """Decide and, when allowed, record an in-progress attempt with a lease. A refusal is
        recorded too, so the ledger says who was turned away and why."""
        _require_reason(req)
        now = self.now()
        with self.engine.begin() as conn:
            lock_key(conn, req.endpoint)
            decision = self._decide(conn, req, now)
            if not decision.allowed:
                assert decision.outcome is not None
                self._insert(conn, req, now, decision.outcome, decision.reason, lease=False)
                return decision
            decision.sync_id = self._insert(
                conn, req, now, Outcome.IN_PROGRESS, decision.reason, lease=True
            )
            return decision

    def record_noop(self, req: SyncRequest, reason: str) -> None:
        """Nothing to send (the vendor already holds it): recorded, no call made."""
        with self.engine.begin() as conn:
            self._insert(conn, req, self.now(), Outcome.NOTHING_TO_SEND, reason, lease=False)

    def record_blocked(self, req: SyncRequest, reason: str) -> None:
        """A safeguard stopped the send before any request."""
        with self.engine.begin() as conn:
            self._insert(conn, req, self.now(), Outcome.BLOCKED, reason, lease=False)

    def _decide(self, conn: sa.Connection, req: SyncRequest, now: dt.datetime) -> Decision:
        refusal = self._refusal(conn, req, now)
        if refusal is not None:
            return Decision(
                False, refusal.reason, outcome=refusal.outcome, blocked_by=refusal.blocked_by
            )
        accepted, finishing = self._resume_state(conn, req, now)
        return Decision(
            True,
            self._allowed_reason(req, accepted),
            accepted_units=accepted,
            finishing_sent=finishing,
        )

    def _allowed_reason(self, req: SyncRequest, accepted: set[str]) -> str:
        if req.kind is SyncKind.FORCED:
            reason = f"forced: {req.force_reason}"
        elif req.kind is SyncKind.BACKFILL:
            reason = f"backfill of {req.range_label} (initial-load exception)"
        else:
            reason = f"the {req.operation.value} of {self.today()} ({req.kind.value})"
        if req.older_snapshot_reason:
            reason += f"; an older snapshot on purpose: {req.older_snapshot_reason}"
        if accepted:
            reason += f"; resuming, {len(accepted)} unit(s) already accepted are not resent"
        return reason

    def _refusal(self, conn: sa.Connection, req: SyncRequest, now: dt.datetime) -> _Refusal | None:
        s = syncs.c
        live = self._live_attempt(conn, req, now)
        if live is not None:
            return _Refusal(
                Outcome.SKIPPED,
                f"another attempt is in progress: run {live.run_id} since "
                f"{_fmt(live.started_at.astimezone(self.tz))} (alive until at least "
                f"{_fmt(live.lease_until.astimezone(self.tz))})",
                live,
            )
        today = now.date().isoformat()
        if req.operation is Operation.READ:
            # A read that got as far as the vendor counts, finished or not: a re-read after a
            # crash or a failure mid-way would be the day's second extraction.
            done = self._last(
                conn,
                s.sent_on == today,
                sa.or_(
                    _succeeded(),
                    s.outcome == Outcome.IN_PROGRESS.value,
                    (s.outcome == Outcome.FAILED.value) & (s.requests > 0),
                ),
                endpoint=req.endpoint,
            )
            if done is not None and req.kind is not SyncKind.FORCED:
                unfinished = (
                    ""
                    if done.outcome == Outcome.SUCCEEDED.value
                    else (", which did not finish; force naming this endpoint to read again")
                )
                return _Refusal(
                    Outcome.SKIPPED,
                    f"already read today at {self._at(done)} by run {done.run_id}{unfinished} "
                    "(the vendor allows one read a day)",
                )
            return None
        if req.snapshot and req.data_as_of is not None and not req.older_snapshot_reason:
            newer = self._newer_snapshot_taken(conn, req)
            if newer is not None:
                return _Refusal(
                    Outcome.SKIPPED,
                    f"superseded: the vendor holds the newer snapshot of {newer.data_as_of} "
                    f"(sent at {self._at(newer)} by run {newer.run_id}); the older one of "
                    f"{req.data_as_of} would overwrite it, forced or not",
                )
        if req.kind is SyncKind.BACKFILL:
            same = self._last(
                conn,
                s.range_label == req.range_label,
                s.sent_on == today,
                s.kind == SyncKind.BACKFILL.value,
                _succeeded(),
                endpoint=req.endpoint,
            )
            if same is not None:
                return _Refusal(
                    Outcome.SKIPPED,
                    f"the range {req.range_label} was already backfilled today at "
                    f"{self._at(same)} by run {same.run_id}",
                )
            return None
        if req.kind is SyncKind.FORCED:
            return None
        done = self._last(
            conn,
            s.sent_on == today,
            s.kind != SyncKind.BACKFILL.value,
            _succeeded(),
            endpoint=req.endpoint,
        )
        if done is not None:
            return _Refusal(
                Outcome.SKIPPED,
                f"already sent today at {self._at(done)} by run {done.run_id}, for "
                f"{done.range_label} (the vendor takes one send a day; tomorrow's carries "
                "what is new)",
            )
        if req.payload_hash:
            last = self._last(conn, _succeeded(), endpoint=req.endpoint)
            if last is not None and last.payload_hash == req.payload_hash:
                return _Refusal(
                    Outcome.NOTHING_TO_SEND,
                    f"identical to the payload the vendor accepted at {self._at(last)} "
                    f"(run {last.run_id}, for {last.range_label})",
                )
        return None

    def _newer_snapshot_taken(self, conn: sa.Connection, req: SyncRequest) -> sa.Row | None:
        """The last send of a newer snapshot the vendor took, whole or in part: one that
        succeeded, or one that stopped after the vendor accepted some of its units (the Pixee
        batches it took hold that drop's products, whatever became of the others)."""
        assert req.data_as_of is not None
        s = syncs.c
        took_units = sa.exists().where(
            units.c.sync_id == s.id, units.c.status == UnitStatus.ACCEPTED.value
        )
        return self._last(
            conn,
            s.data_as_of > req.data_as_of.isoformat(),
            sa.or_(_succeeded(), took_units),
            endpoint=req.endpoint,
        )

    def _live_attempt(
        self, conn: sa.Connection, req: SyncRequest, now: dt.datetime
    ) -> LiveAttempt | None:
        s = syncs.c
        running = conn.execute(
            sa.select(syncs).where(
                s.endpoint == req.endpoint,
                s.outcome == Outcome.IN_PROGRESS.value,
                s.run_id != req.run_id,
            )
        ).all()
        for row in running:
            lease_until = _aware(row.lease_until)
            if lease_until and lease_until > now and self.run_is_alive(row.run_id):
                return LiveAttempt(row.run_id, _aware(row.started_at), lease_until)
        return None

    def _resume_state(
        self, conn: sa.Connection, req: SyncRequest, now: dt.datetime
    ) -> tuple[set[str], bool]:
        """Units accepted by earlier unfinished attempts of the same send: today's, on this
        endpoint (a backfill: today's of the same range), and whether one carried the
        finishing flag, accepted or in flight when its attempt died."""
        if req.operation is Operation.READ:
            return set(), False
        s = syncs.c
        same_send = [s.endpoint == req.endpoint, s.sent_on == now.date().isoformat()]
        if req.kind is SyncKind.BACKFILL:
            same_send += [s.kind == SyncKind.BACKFILL.value, s.range_label == req.range_label]
        else:
            same_send.append(s.kind != SyncKind.BACKFILL.value)
        rows = conn.execute(
            sa.select(units.c.unit_key, units.c.status, units.c.finishing)
            .join(syncs, syncs.c.id == units.c.sync_id)
            .where(*same_send, s.outcome.in_([Outcome.FAILED.value, Outcome.IN_PROGRESS.value]))
        ).all()
        accepted = {r.unit_key for r in rows if r.status == UnitStatus.ACCEPTED.value}
        # A request carried the flag, and was accepted or in flight when its attempt died: it
        # is not sent again (the engine holds it back while any unit of the send is refused).
        finishing = any(r.finishing and r.status != UnitStatus.REFUSED.value for r in rows)
        return accepted, finishing

    # -- recording --------------------------------------------------------------------------

    def _insert(
        self,
        conn: sa.Connection,
        req: SyncRequest,
        now: dt.datetime,
        outcome: Outcome,
        reason: str,
        lease: bool,
    ) -> int:
        result = conn.execute(
            syncs.insert().values(
                endpoint=req.endpoint,
                operation=req.operation.value,
                business_day=req.business_day.isoformat(),
                range_label=req.range_label,
                sent_on=now.date().isoformat(),
                kind=req.kind.value,
                payload_hash=req.payload_hash,
                requests=0,
                outcome=outcome.value,
                reason=reason,
                run_id=req.run_id,
                started_at=now,
                lease_until=now + self.lease if lease else None,
                finished_at=None if lease else now,
                data_as_of=req.data_as_of.isoformat() if req.data_as_of else None,
            )
        )
        return int(result.inserted_primary_key[0])

    def record_unit(
        self,
        sync_id: int,
        index: int,
        unit_key: str,
        status: UnitStatus,
        *,
        finishing: bool = False,
        also: Writes | None = None,
    ) -> None:
        """Record one unit's state (and `also` writes, in the same transaction: a unit and what
        its acceptance means for our state are recorded together or not at all); it extends the
        attempt's lease."""
        now = self.now()
        with self.engine.begin() as conn:
            existing = conn.execute(
                sa.select(units.c.finishing).where(
                    units.c.sync_id == sync_id, units.c.unit_key == unit_key
                )
            ).first()
            values = {"unit_index": index, "status": status.value, "at": now}
            if existing is None:
                conn.execute(
                    units.insert().values(
                        sync_id=sync_id, unit_key=unit_key, finishing=finishing, **values
                    )
                )
            else:
                conn.execute(
                    units.update()
                    .where(units.c.sync_id == sync_id, units.c.unit_key == unit_key)
                    .values(finishing=existing.finishing or finishing, **values)
                )
            answered = {} if status is UnitStatus.SENDING else {"requests": syncs.c.requests + 1}
            conn.execute(
                syncs.update()
                .where(syncs.c.id == sync_id)
                .values(lease_until=now + self.lease, **answered)
            )
            if also is not None:
                also(conn)

    def renew(self, sync_id: int) -> None:
        """The heartbeat: the attempt is alive for another lease."""
        now = self.now()
        with self.engine.begin() as conn:
            conn.execute(
                syncs.update()
                .where(syncs.c.id == sync_id, syncs.c.outcome == Outcome.IN_PROGRESS.value)
                .values(lease_until=now + self.lease)
            )

    def finish(
        self,
        sync_id: int,
        outcome: Outcome,
        requests: int | None = None,
        detail: dict | None = None,
        *,
        also: Writes | None = None,
    ) -> None:
        values: dict = {"outcome": outcome.value, "finished_at": self.now(), "lease_until": None}
        if requests is not None:
            values["requests"] = requests
        if detail is not None:
            values["detail"] = json.dumps(detail, default=str)
        with self.engine.begin() as conn:
            conn.execute(syncs.update().where(syncs.c.id == sync_id).values(**values))
            if also is not None:
                also(conn)

    # -- reading ----------------------------------------------------------------------------

    def _at(self, row: sa.Row) -> str:
        return _fmt(_aware(row.started_at).astimezone(self.tz))

    def _last(self, conn: sa.Connection, *where: sa.ColumnElement, endpoint: str) -> sa.Row | None:
        return conn.execute(
            sa.select(syncs)
            .where(syncs.c.endpoint == endpoint, *where)
            .order_by(syncs.c.id.desc())
            .limit(1)
        ).first()

    def last_accepted(self, endpoint: str) -> dict | None:
        """The endpoint's last succeeded send (a snapshot's day is its `data_as_of`)."""
        with self.engine.connect() as conn:
            row = self._last(conn, _succeeded(), endpoint=endpoint)
        return dict(row._mapping) if row is not None else None

    def done_days(self, endpoint: str) -> set[dt.date]:
        """Drop days whose data the vendor holds: the days of the sends it accepted or already
        had (not the backfill's, which covers history)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(syncs.c.business_day, syncs.c.data_as_of)
                .distinct()
                .where(
                    syncs.c.endpoint == endpoint,
                    syncs.c.outcome.in_(_DONE),
                    syncs.c.kind != SyncKind.BACKFILL.value,
                )
            ).all()
        return {dt.date.fromisoformat(r.data_as_of or r.business_day) for r in rows}

    def entries(self, endpoint: str | None = None) -> list[dict]:
        query = sa.select(syncs).order_by(syncs.c.id)
        if endpoint:
            query = query.where(syncs.c.endpoint == endpoint)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def unit_records(self, sync_id: int) -> list[dict]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(units).where(units.c.sync_id == sync_id).order_by(units.c.unit_index)
            )
            return [dict(r._mapping) for r in rows]


# Outcomes that mean "the vendor holds this send's data".
_DONE = (Outcome.SUCCEEDED.value, Outcome.NOTHING_TO_SEND.value)


def _succeeded() -> sa.ColumnElement:
    return syncs.c.outcome == Outcome.SUCCEEDED.value


def _require_reason(req: SyncRequest) -> None:
    if req.kind is SyncKind.FORCED and not (req.force_reason or "").strip():
        raise ForceWithoutReasonError(
            "force: true needs a reason (run config resources.cadence.config.reason), so the "
            "ledger says why the vendor's daily limit was overridden"
        )
    if req.older_snapshot_reason is not None and not req.older_snapshot_reason.strip():
        raise ForceWithoutReasonError("sending an older snapshot on purpose needs a reason")


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC-offset form."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=dt.UTC)


def synced_days(ledger: CadenceLedger, endpoints: tuple[str, ...]) -> set[dt.date]:
    """Drop days done on every one of `endpoints`."""
    days = [ledger.done_days(e) for e in endpoints]
    return set.intersection(*days) if days else set()
