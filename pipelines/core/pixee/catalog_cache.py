"""The local copy of Pixee's catalog, refreshed by the daily delta read (`GET /products/delta`
since a cursor). The read goes through the sync engine as one unit; its cursor moves in the
same transaction that records the read, and only once the products are merged into the cache."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pipelines.core.atomic_file import atomic_path
from pipelines.core.pixee.client import READ_SCOPE, DeltaRead, PixeeClient
from pipelines.core.state_db import get_cursor, set_cursor
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer

DELTA_CURSOR = "pixee products delta since"
DELTA_EPOCH = "1970-01-01T00:00:00Z"
DELTA_UNIT = Unit(key="pixee delta read", payload=None, items=0, label="Pixee delta read")


def delta_read_plan() -> SendPlan:
    return SendPlan([DELTA_UNIT])


def delta_since(engine: sa.Engine) -> str:
    return get_cursor(engine, DELTA_CURSOR) or DELTA_EPOCH


class DeltaReadSender:
    def __init__(self, client: PixeeClient, since: str, cache_path: Path) -> None:
        self.client = client
        self.since = since
        self.cache_path = cache_path
        self.stats = client.stats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        self.client.require_scopes(READ_SCOPE)
        read = self.client.delta(self.since)
        merge_into_cache(self.cache_path, read.products)
        return UnitAnswer(counts={"products_read": len(read.products)}, value=read)

    def refused_items(self, unit: Unit) -> list[str]:
        return []


class DeltaCursorWriter:
    """Moves the cursor with the read's record."""

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        read: DeltaRead = answer.value
        set_cursor(conn, DELTA_CURSOR, read.cursor)

    def send_succeeded(self, conn: sa.Connection) -> None:
        pass


def read_cache(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame({"ean": []})


def merge_into_cache(path: Path, products: list[dict]) -> None:
    """The newest record per EAN wins."""
    fresh = pd.DataFrame(products)
    if path.exists() and not fresh.empty:
        fresh = pd.concat([pd.read_parquet(path), fresh], ignore_index=True)
    elif path.exists():
        return
    if fresh.empty:
        fresh = pd.DataFrame({"ean": pd.Series(dtype=str)})
    fresh = fresh.drop_duplicates("ean", keep="last").astype({"ean": str})
    with atomic_path(path) as tmp:
        fresh.astype(object).where(fresh.notna(), None).to_parquet(tmp, index=False)
