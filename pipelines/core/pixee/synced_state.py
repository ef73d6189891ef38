"""What Pixee holds of ours, per EAN, and what it still refuses.

- `pixee_synced_products`: the content hash of the ERP's product as Pixee last accepted it, the
  drop day it came from, the status we sent when the product left the ERP export
  (`removed_status`), and `requeued`: why it must be sent again though the ERP did not change it
  (edited or deleted in Pixee, corrected by hand). Products absent here, whose hash differs, or
  that are requeued, are sent again; a product Pixee refused is never marked.
- `pixee_refused_products`: each product Pixee refused and has not accepted since: the first and
  the last calendar day it was refused, how many sends it refused, and its last reason.

Both are written in the transaction that records a batch accepted or refused (the sync engine's),
so a crash loses neither; the row leaves `pixee_refused_products` in the transaction that marks
the product synced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from pipelines.core.state_db import dialect_insert, metadata, upsert

synced_products = sa.Table(
    "pixee_synced_products",
    metadata,
    sa.Column("ean", sa.String(14), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    # The drop day whose content Pixee accepted.
    sa.Column("data_as_of", sa.String(10)),
    # Set when the product was sent as removed from the ERP export (PIXEE_REMOVED_STATUS).
    sa.Column("removed_status", sa.String(20)),
    # Why it is sent again though unchanged in the ERP; cleared once Pixee accepts it.
    sa.Column("requeued", sa.Text),
)

refused_products = sa.Table(
    "pixee_refused_products",
    metadata,
    sa.Column("ean", sa.String(14), primary_key=True),
    sa.Column("first_refused_on", sa.String(10), nullable=False),  # calendar day (SYNC_TIMEZONE)
    sa.Column("last_refused_on", sa.String(10), nullable=False),
    sa.Column("refusals", sa.Integer, nullable=False),  # sends that refused it
    sa.Column("reason", sa.Text, nullable=False),  # Pixee's last word on it
    sa.Column("run_id", sa.String(64), nullable=False),
)

# EANs per IN (...) list: under every SQLite build's bound-parameter limit.
_CHUNK = 500


@dataclass(frozen=True)
class Held:
    """One product as Pixee last accepted it from us."""

    content_hash: str
    synced_at: dt.datetime
    data_as_of: str | None = None
    removed_status: str | None = None
    requeued: str | None = None


@dataclass(frozen=True)
class Refusal:
    ean: str
    first_refused_on: str
    last_refused_on: str
    refusals: int
    reason: str


class SyncedProducts:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def hashes(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(synced_products.c.ean, synced_products.c.content_hash))
            return {r.ean: r.content_hash for r in rows}

    def held(self) -> dict[str, Held]:
        c = synced_products.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    c.ean, c.content_hash, c.synced_at, c.data_as_of, c.removed_status, c.requeued
                )
            )
            return {
                r.ean: Held(
                    r.content_hash, _aware(r.synced_at), r.data_as_of, r.removed_status, r.requeued
                )
                for r in rows
            }

    def refused(self) -> dict[str, Refusal]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(refused_products).order_by(refused_products.c.ean))
            return {
                r.ean: Refusal(r.ean, r.first_refused_on, r.last_refused_on, r.refusals, r.reason)
                for r in rows
            }

    def mark(self, accepted: dict[str, str], run_id: str) -> None:
        """Record products Pixee accepted, in a transaction of its own."""
        with self.engine.begin() as conn:
            mark_synced(conn, accepted, run_id)

    def requeue(self, eans: Iterable[str], why: str) -> int:
        """Queue products Pixee holds from us for the next send (see `requeue`)."""
        with self.engine.begin() as conn:
            return requeue(conn, eans, why)

    def forget(self, eans: Iterable[str]) -> int:
        """Products Pixee no longer holds and the ERP no longer exports: nothing to send."""
        with self.engine.begin() as conn:
            total = 0
            for chunk in _chunks(eans):
                total += conn.execute(
                    synced_products.delete().where(synced_products.c.ean.in_(chunk))
                ).rowcount
            return total


def mark_synced(
    conn: sa.Connection,
    accepted: Mapping[str, str],
    run_id: str,
    *,
    data_as_of: dt.date | None = None,
    removed: Mapping[str, str] | None = None,
) -> None:
    """Record products Pixee accepted (ean -> content hash of the ERP's product it took), inside
    the caller's transaction: the engine writes it with the batch's acceptance, so a crash loses
    neither. `removed` names those sent as removed from the ERP export, with the status sent.
    A product accepted is no longer refused, and no longer requeued."""
    now = dt.datetime.now(dt.UTC)
    removed = removed or {}
    rows = [
        {
            "ean": ean,
            "content_hash": h,
            "synced_at": now,
            "run_id": run_id,
            "data_as_of": data_as_of.isoformat() if data_as_of else None,
            "removed_status": removed.get(ean),
            "requeued": None,
        }
        for ean, h in accepted.items()
    ]
    upsert(conn, synced_products, rows, ["ean"])
    forget_refused(conn, accepted)


def mark_refused(
    conn: sa.Connection, refused: Mapping[str, str], run_id: str, today: dt.date
) -> None:
    """Record products Pixee refused (ean -> its reason) in the caller's transaction: the first
    day it refused each is kept, the last day, the count and the reason move on."""
    if not refused:
        return
    table = refused_products
    statement = dialect_insert(conn, table)
    statement = statement.on_conflict_do_update(
        index_elements=["ean"],
        set_={
            "last_refused_on": statement.excluded.last_refused_on,
            "refusals": table.c.refusals + 1,
            "reason": statement.excluded.reason,
            "run_id": statement.excluded.run_id,
        },
    )
    day = today.isoformat()
    conn.execute(
        statement,
        [
            {
                "ean": ean,
                "first_refused_on": day,
                "last_refused_on": day,
                "refusals": 1,
                "reason": reason,
                "run_id": run_id,
            }
            for ean, reason in refused.items()
        ],
    )


def forget_refused(conn: sa.Connection, eans: Iterable[str]) -> None:
    for chunk in _chunks(eans):
        conn.execute(refused_products.delete().where(refused_products.c.ean.in_(chunk)))


def requeue(conn: sa.Connection, eans: Iterable[str], why: str) -> int:
    """Mark products Pixee holds from us to be sent again at the next daily send, though the ERP
    did not change them (their synced hash no longer counts). Products never synced are not
    touched: they are sent anyway. Returns how many were marked."""
    total = 0
    for chunk in _chunks(eans):
        total += conn.execute(
            synced_products.update().where(synced_products.c.ean.in_(chunk)).values(requeued=why)
        ).rowcount
    return total


def _chunks(eans: Iterable[str]) -> Iterator[list[str]]:
    items = list(eans)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _aware(ts: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=dt.UTC)
