"""The ledger of every external sync, and the rules that decide whether a call may go out.

Rules (checked inside one serialised transaction, so two runs cannot both pass):
- a write: at most one success per endpoint per business day; a payload identical to the
  endpoint's last successful one is skipped (and counts as the day's sync);
- a once-a-day read (PXM, Pixee delta): at most one success per endpoint per calendar day;
- an attempt still running (lease not expired, run alive) blocks other attempts at the same
  data (for a snapshot endpoint, at any day's data);
- a snapshot (the master inventory replaces everything) older than the last one sent is never
  sent: it would overwrite newer data;
- an attempt that failed part-way does not spend the day: the next one is told which chunks were
  already accepted, and sends only the rest;
- a backfill is allowed outside the daily budget, but the same range twice on one calendar day is
  refused;
- `force` (with a reason) overrides the rules and is recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pipelines.core.state_db import lock_key, metadata


class SyncKind(StrEnum):
    SCHEDULED = "scheduled"
    SENSOR = "sensor"
    MANUAL = "manual"
    BACKFILL = "backfill"
    FORCED = "forced"


class Operation(StrEnum):
    WRITE = "write"
    READ = "read"


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    SKIPPED_IDENTICAL = "skipped_identical"  # counts as the day's sync: nothing new to send


class ForceWithoutReasonError(ValueError):
    pass


# Outcomes that mean "this business day's data is at the vendor".
DONE = (Outcome.SUCCEEDED.value, Outcome.SKIPPED_IDENTICAL.value)

syncs = sa.Table(
    "erp_sync_ledger",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(200), nullable=False, index=True),
    sa.Column("operation", sa.String(10), nullable=False),
    sa.Column("business_day", sa.String(10), nullable=False),
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
)

chunks = sa.Table(
    "erp_sync_chunks",
    metadata,
    sa.Column("sync_id", sa.Integer, sa.ForeignKey("erp_sync_ledger.id"), primary_key=True),
    sa.Column("chunk_hash", sa.String(64), primary_key=True),
    sa.Column("chunk_index", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class SyncRequest:
    endpoint: str  # e.g. "paqtana PUT master_inventory"
    operation: Operation
    business_day: dt.date  # last day of the partition range
    range_label: str
    kind: SyncKind
    run_id: str
    payload_hash: str | None = None
    force_reason: str | None = None
    # A full snapshot (the master inventory): an older day must never overwrite a newer one.
    snapshot: bool = False


@dataclass
class Decision:
    allowed: bool
    reason: str
    sync_id: int | None = None
    accepted_chunks: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return ("sent" if self.allowed else "skipped") + f": {self.reason}"


def _fmt(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class CadenceLedger:
    def __init__(
        self,
        engine: sa.Engine,
        timezone: str = "UTC",
        clock: Callable[[], dt.datetime] | None = None,
        lease: dt.timedelta = dt.timedelta(minutes=15),
        run_is_alive: Callable[[str], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.lease = lease
        self.run_is_alive = run_is_alive or (lambda _run_id: True)

    def _now(self) -> dt.datetime:
        return self.clock().astimezone(self.tz)

    def claim(self, req: SyncRequest) -> Decision:
        """Decide and, when allowed, record an in-progress attempt. Always records the decision."""
        if req.kind is SyncKind.FORCED and not (req.force_reason or "").strip():
            raise ForceWithoutReasonError(
                "force: true needs a reason (run config resources.cadence.config.reason), so the "
                "ledger says why the vendor's daily limit was overridden"
            )
        now = self._now()
        with self.engine.begin() as conn:
            lock_key(conn, req.endpoint)
            refusal = self._refusal(conn, req, now)
            if refusal is not None:
                outcome, reason = refusal
                self._insert(conn, req, now, outcome, reason, lease=False)
                return Decision(False, reason)
            accepted = self._accepted_before(conn, req, now)
            reason = self._allowed_reason(req, accepted)
            sync_id = self._insert(conn, req, now, Outcome.IN_PROGRESS, reason, lease=True)
            return Decision(True, reason, sync_id, accepted)

    def record_noop(self, req: SyncRequest, reason: str) -> None:
        """Nothing to send (e.g. an unchanged catalog): the day counts as synced, no call made."""
        with self.engine.begin() as conn:
            self._insert(conn, req, self._now(), Outcome.SKIPPED_IDENTICAL, reason, lease=False)

    def _allowed_reason(self, req: SyncRequest, accepted: set[str]) -> str:
        if req.kind is SyncKind.FORCED:
            reason = f"forced: {req.force_reason}"
        elif req.kind is SyncKind.BACKFILL:
            reason = f"backfill of {req.range_label} (initial-load exception)"
        else:
            reason = f"first {req.operation.value} for {req.range_label} ({req.kind.value})"
        if accepted:
            reason += f"; resuming, {len(accepted)} chunk(s) already accepted are not resent"
        return reason

    def _refusal(
        self, conn: sa.Connection, req: SyncRequest, now: dt.datetime
    ) -> tuple[Outcome, str] | None:
        s = syncs.c
        # Another live attempt at the same data blocks; for a snapshot, at any day's data.
        same_data = (
            sa.true()
            if req.snapshot
            else (s.range_label == req.range_label)
            if req.kind is SyncKind.BACKFILL
            else (s.business_day == req.business_day.isoformat())
        )
        running = conn.execute(
            sa.select(syncs).where(
                s.endpoint == req.endpoint,
                s.outcome == Outcome.IN_PROGRESS.value,
                s.run_id != req.run_id,
                same_data,
            )
        ).all()
        for row in running:
            lease_until = _aware(row.lease_until)
            if lease_until and lease_until > now and self.run_is_alive(row.run_id):
                return Outcome.SKIPPED, (
                    f"another attempt is in progress: run {row.run_id} since "
                    f"{_fmt(_aware(row.started_at).astimezone(self.tz))}"
                )
        if req.kind is SyncKind.FORCED:
            return None
        today = now.date().isoformat()
        if req.kind is SyncKind.BACKFILL:
            same = self._last(
                conn,
                s.range_label == req.range_label,
                s.sent_on == today,
                s.kind == SyncKind.BACKFILL.value,
                s.outcome.in_(DONE),
                endpoint=req.endpoint,
            )
            if same is not None:
                return Outcome.SKIPPED, (
                    f"the range {req.range_label} was already backfilled today at "
                    f"{self._at(same)} by run {same.run_id}"
                )
            return None
        if req.operation is Operation.READ:
            done = self._last(conn, s.sent_on == today, s.outcome.in_(DONE), endpoint=req.endpoint)
            if done is not None:
                return Outcome.SKIPPED, (
                    f"already read today at {self._at(done)} by run {done.run_id} "
                    f"(the vendor allows one read a day)"
                )
            return None
        done = self._last(
            conn,
            s.business_day == req.business_day.isoformat(),
            s.outcome.in_(DONE),
            s.kind != SyncKind.BACKFILL.value,
            endpoint=req.endpoint,
        )
        if done is not None:
            return Outcome.SKIPPED, (
                f"already sent for {req.business_day} at {self._at(done)} by run {done.run_id}"
            )
        if req.snapshot:
            newer = self._last(
                conn,
                s.business_day > req.business_day.isoformat(),
                s.outcome == Outcome.SUCCEEDED.value,
                endpoint=req.endpoint,
            )
            if newer is not None:
                return Outcome.SKIPPED_IDENTICAL, (
                    f"superseded: the newer snapshot of {newer.business_day} was sent at "
                    f"{self._at(newer)} by run {newer.run_id}; an older one would overwrite it"
                )
        if req.payload_hash:
            last = self._last(conn, s.outcome == Outcome.SUCCEEDED.value, endpoint=req.endpoint)
            if last is not None and last.payload_hash == req.payload_hash:
                return Outcome.SKIPPED_IDENTICAL, (
                    f"identical payload to the one sent for {last.business_day} at "
                    f"{self._at(last)} by run {last.run_id}"
                )
        return None

    def _at(self, row: sa.Row) -> str:
        return _fmt(_aware(row.started_at).astimezone(self.tz))

    def _last(self, conn: sa.Connection, *where: sa.ColumnElement, endpoint: str) -> sa.Row | None:
        return conn.execute(
            sa.select(syncs)
            .where(syncs.c.endpoint == endpoint, *where)
            .order_by(syncs.c.id.desc())
            .limit(1)
        ).first()

    def _accepted_before(self, conn: sa.Connection, req: SyncRequest, now: dt.datetime) -> set[str]:
        """Chunks accepted by earlier unfinished attempts at the same data."""
        s = syncs.c
        same_data = (
            (s.range_label == req.range_label)
            if req.kind is SyncKind.BACKFILL
            else (s.business_day == req.business_day.isoformat())
        )
        rows = conn.execute(
            sa.select(chunks.c.chunk_hash)
            .join(syncs, syncs.c.id == chunks.c.sync_id)
            .where(
                s.endpoint == req.endpoint,
                same_data,
                s.outcome.in_([Outcome.FAILED.value, Outcome.IN_PROGRESS.value]),
                chunks.c.status == "accepted",
            )
        ).all()
        return {r.chunk_hash for r in rows}

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
            )
        )
        return int(result.inserted_primary_key[0])

    def record_chunk(
        self, sync_id: int, index: int, chunk_hash: str, status: str = "accepted"
    ) -> None:
        """Record one accepted chunk and extend the attempt's lease (it is alive)."""
        now = self._now()
        with self.engine.begin() as conn:
            conn.execute(
                chunks.insert().values(
                    sync_id=sync_id, chunk_hash=chunk_hash, chunk_index=index, status=status, at=now
                )
            )
            conn.execute(
                syncs.update()
                .where(syncs.c.id == sync_id)
                .values(lease_until=now + self.lease, requests=syncs.c.requests + 1)
            )

    def finish(
        self,
        sync_id: int,
        outcome: Outcome,
        requests: int | None = None,
        detail: dict | None = None,
    ) -> None:
        values: dict = {"outcome": outcome.value, "finished_at": self._now(), "lease_until": None}
        if requests is not None:
            values["requests"] = requests
        if detail is not None:
            values["detail"] = json.dumps(detail, default=str)
        with self.engine.begin() as conn:
            conn.execute(syncs.update().where(syncs.c.id == sync_id).values(**values))

    def done_days(self, endpoint: str) -> set[dt.date]:
        """Business days whose data is at the vendor (sent, or identical to what was sent)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(syncs.c.business_day)
                .distinct()
                .where(
                    syncs.c.endpoint == endpoint,
                    syncs.c.outcome.in_(DONE),
                    syncs.c.kind != SyncKind.BACKFILL.value,
                )
            ).all()
        return {dt.date.fromisoformat(r.business_day) for r in rows}

    def entries(self, endpoint: str | None = None) -> list[dict]:
        query = sa.select(syncs).order_by(syncs.c.id)
        if endpoint:
            query = query.where(syncs.c.endpoint == endpoint)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _aware(ts: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back naive; they were written in UTC-offset form."""
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=dt.UTC)


def synced_days(ledger: CadenceLedger, endpoints: tuple[str, ...]) -> set[dt.date]:
    """Business days done on every one of `endpoints`."""
    days = [ledger.done_days(e) for e in endpoints]
    return set.intersection(*days) if days else set()
