"""What Pixee last accepted, per EAN: the content hash of the product as sent. Products absent
here, or whose hash differs, are sent again; a product that failed is never marked."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from pipelines.core.state_db import metadata, upsert

synced_products = sa.Table(
    "pixee_synced_products",
    metadata,
    sa.Column("ean", sa.String(14), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
)


class SyncedProducts:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def hashes(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(synced_products.c.ean, synced_products.c.content_hash))
            return {r.ean: r.content_hash for r in rows}

    def mark(self, accepted: dict[str, str], run_id: str) -> None:
        """Record products Pixee accepted, in a transaction of its own."""
        with self.engine.begin() as conn:
            mark_synced(conn, accepted, run_id)


def mark_synced(conn: sa.Connection, accepted: dict[str, str], run_id: str) -> None:
    """Record products Pixee accepted (ean -> content hash of the body it took), inside the
    caller's transaction: the engine writes it with the batch's acceptance, so a crash loses
    neither."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"ean": ean, "content_hash": h, "synced_at": now, "run_id": run_id}
        for ean, h in accepted.items()
    ]
    upsert(conn, synced_products, rows, ["ean"])
