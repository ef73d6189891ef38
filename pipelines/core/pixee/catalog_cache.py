"""The local copy of Pixee's catalog, refreshed by the daily read: the delta (`GET /products/delta`
since a cursor), then a count of what Pixee holds, and a full list when the count shows products
the delta cannot (deleted ones). The read goes through the sync engine as one unit; its cursors
move in the same transaction that records the read, and only once the products are in the copy.

ASSUMPTION (vendor page: the delta returns products "created or updated since"; the API has no
deletion feed and no DELETE): a product deleted in Pixee shows only as `meta.total` of
`GET /products` falling below the copy's count. Then, and at least every FULL_LIST_EVERY_DAYS
(a deletion hidden by a creation the same day leaves the count equal), the whole list is read
(pages of 500, within the read limit of 1,000 a minute) and replaces the copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from pipelines.core.atomic_file import atomic_path
from pipelines.core.pixee.client import READ_SCOPE, DeltaRead, PixeeClient, ProductList
from pipelines.core.state_db import get_cursor, set_cursor
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer

DELTA_CURSOR = "pixee products delta since"
# The calendar day of the last complete full read (a full list, or a delta from the epoch).
FULL_LIST_CURSOR = "pixee products full list on"
# When (our clock) the read behind the copy began: a product accepted after it cannot be in it.
READ_AT_CURSOR = "pixee catalog read at"
DELTA_EPOCH = "1970-01-01T00:00:00Z"
FULL_LIST_EVERY_DAYS = 7
DELTA_UNIT = Unit(key="pixee delta read", payload=None, items=0, label="Pixee delta read")


def delta_read_plan() -> SendPlan:
    return SendPlan([DELTA_UNIT])


def delta_since(engine: sa.Engine, cache_path: Path) -> str:
    """Where the delta starts: the cursor, or the epoch when there is no copy (a lost copy is
    read whole again, or every product would look deleted)."""
    return (get_cursor(engine, DELTA_CURSOR) if cache_path.exists() else None) or DELTA_EPOCH


def last_read(engine: sa.Engine) -> tuple[dt.datetime | None, dt.date | None]:
    """When the copy's read began (our clock), and the day of its last full read."""
    read_at = get_cursor(engine, READ_AT_CURSOR)
    full = get_cursor(engine, FULL_LIST_CURSOR)
    return (
        dt.datetime.fromisoformat(read_at) if read_at else None,
        dt.date.fromisoformat(full) if full else None,
    )


def full_list_due(
    pixee_total: int, copied: int, last_full: dt.date | None, today: dt.date
) -> str | None:
    """Why the whole list must be read today, or None."""
    if pixee_total < copied:
        return (
            f"Pixee holds {pixee_total} products, the local copy {copied}: products were "
            "deleted in Pixee"
        )
    if pixee_total > copied:
        return f"Pixee holds {pixee_total} products, the local copy {copied}: the copy misses some"
    if last_full is None:
        return "no full list read yet"
    age = (today - last_full).days
    if age >= FULL_LIST_EVERY_DAYS:
        return f"the last full list is {age} days old (read at least every {FULL_LIST_EVERY_DAYS})"
    return None


@dataclass(frozen=True)
class CatalogRead:
    """The day's read: the delta, Pixee's count, and the full list when one was due."""

    delta: DeltaRead
    started_at: dt.datetime
    pixee_total: int
    copied: int  # products in the copy after the delta was merged
    full_list: ProductList | None = None
    full_list_why: str | None = None
    deleted: tuple[str, ...] = ()  # EANs the full list no longer has
    whole: bool = False  # the copy now holds what Pixee holds (a complete full read)

    @property
    def cursor(self) -> str:
        return self.delta.cursor


class DeltaReadSender:
    def __init__(
        self,
        client: PixeeClient,
        since: str,
        cache_path: Path,
        *,
        today: dt.date,
        last_full: dt.date | None,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.client = client
        self.since = since
        self.cache_path = cache_path
        self.today = today
        self.last_full = last_full
        self.now = now
        self.stats = client.stats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        self.client.require_scopes(READ_SCOPE)
        started = self.now()
        delta = self.client.delta(self.since)
        merge_into_cache(self.cache_path, delta.products)
        copied = len(read_cache(self.cache_path))
        whole = self.since == DELTA_EPOCH and delta.complete
        total = self.client.catalog_total()
        why = full_list_due(total, copied, self.today if whole else self.last_full, self.today)
        listing, deleted = None, ()
        if why is not None:
            listing = self.client.list_products()
            if listing.complete:
                deleted = replace_cache(self.cache_path, listing.products)
                whole = True
        read = CatalogRead(delta, started, total, copied, listing, why, deleted, whole)
        counts = {"products_read": len(delta.products), "deleted_in_pixee": len(deleted)}
        return UnitAnswer(counts=counts, value=read)

    def refused_items(self, unit: Unit) -> list[str]:
        return []


class DeltaCursorWriter:
    """Moves the cursors with the read's record."""

    def __init__(self, today: dt.date) -> None:
        self.today = today

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        read: CatalogRead = answer.value
        set_cursor(conn, DELTA_CURSOR, read.cursor)
        set_cursor(conn, READ_AT_CURSOR, read.started_at.isoformat())
        if read.whole:
            set_cursor(conn, FULL_LIST_CURSOR, self.today.isoformat())

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
    _write(path, fresh)


def replace_cache(path: Path, products: list[dict]) -> tuple[str, ...]:
    """The copy becomes exactly `products` (a complete full list); returns the EANs it drops."""
    before = set(read_cache(path)["ean"].astype(str))
    _write(path, pd.DataFrame(products))
    after = {str(p.get("ean")) for p in products}
    return tuple(sorted(before - after))


def _write(path: Path, frame: pd.DataFrame) -> None:
    if frame.empty:
        frame = pd.DataFrame({"ean": pd.Series(dtype=str)})
    frame = frame.drop_duplicates("ean", keep="last").astype({"ean": str})
    with atomic_path(path) as tmp:
        frame.astype(object).where(frame.notna(), None).to_parquet(tmp, index=False)
