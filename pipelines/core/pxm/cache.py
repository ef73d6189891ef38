"""The local copy of the PXM catalog: one SQLite file written by the daily read and read by
every consumer, so nothing but the daily read ever calls PXM (the vendor's cadence rule).

Tables:
- collections(id, name, parent_id, updated_date, collection_type, attributes_json, record_json)
- categories(id, name, parent_id, record_json)
- attributes(id, label, record_json)
- read_meta: one row (schema_version, read_at, counts, pages_json, token_fetches, duration_s)

The named columns are a projection for SQL readers; `record_json` is the record as PXM sent it
(for collections, without `attributes`, which are in `attributes_json`), so a read gives back
exactly what the read returned. The file is written to a temporary name and renamed over the
old one, so a reader sees the previous complete catalog or the new one, never a half-written
file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from pipelines.core.atomic_file import atomic_path
from pipelines.core.pxm.client import CatalogRead

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE collections (
    -- ids keep the type PXM sent (no declared type, so SQLite converts nothing)
    id,
    name TEXT,
    parent_id,
    updated_date TEXT,
    collection_type TEXT,
    attributes_json TEXT,
    record_json TEXT NOT NULL
);
CREATE INDEX collections_parent_id ON collections(parent_id);
CREATE TABLE categories (id, name TEXT, parent_id, record_json TEXT NOT NULL);
CREATE TABLE attributes (id, label TEXT, record_json TEXT NOT NULL);
CREATE TABLE read_meta (
    schema_version INTEGER NOT NULL,
    read_at TEXT NOT NULL,
    collections INTEGER NOT NULL,
    categories INTEGER NOT NULL,
    attributes INTEGER NOT NULL,
    pages_json TEXT NOT NULL,
    token_fetches INTEGER NOT NULL,
    duration_s REAL NOT NULL
);
"""


class CatalogCacheError(Exception):
    """The cache is missing or is not a catalog cache this code can read."""


class CatalogCacheMissingError(CatalogCacheError, FileNotFoundError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"PXM catalog cache {path} does not exist; fill it with the daily PXM read "
            "(PxmClient.read_catalog() then write_catalog_cache(read, path), which the PXM "
            "catalog asset does when it is materialised)"
        )


@dataclass(frozen=True)
class CacheMeta:
    read_at: datetime
    collections: int
    categories: int
    attributes: int
    pages: dict[str, int]
    token_fetches: int
    duration_s: float


@dataclass(frozen=True)
class CatalogCache:
    """What a consumer gets: the records as PXM sent them, attributes parsed."""

    collections: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    attributes: list[dict[str, Any]]
    meta: CacheMeta
    path: Path


def write_catalog_cache(read: CatalogRead, path: Path) -> Path:
    """Write `read` to `path` atomically (temporary file in the same folder, then rename)."""
    with atomic_path(path) as tmp, contextlib.closing(sqlite3.connect(tmp)) as db:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO collections VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_collection_row(c) for c in read.collections),
        )
        db.executemany(
            "INSERT INTO categories VALUES (?, ?, ?, ?)",
            (
                (
                    _scalar(c.get("id")),
                    _text(c.get("name")),
                    _scalar(c.get("parent_id")),
                    _dumps(c),
                )
                for c in read.categories
            ),
        )
        db.executemany(
            "INSERT INTO attributes VALUES (?, ?, ?)",
            (
                (_scalar(a.get("id")), _text(a.get("label") or a.get("name")), _dumps(a))
                for a in read.attributes
            ),
        )
        db.execute(
            "INSERT INTO read_meta VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                SCHEMA_VERSION,
                read.read_at.isoformat(),
                len(read.collections),
                len(read.categories),
                len(read.attributes),
                _dumps(read.pages),
                read.token_fetches,
                read.duration_s,
            ),
        )
        db.commit()
    return path


def read_catalog_cache(path: Path) -> CatalogCache:
    """The cached catalog. Raises CatalogCacheMissingError if the daily read never wrote it."""
    path = Path(path)
    if not path.is_file():
        raise CatalogCacheMissingError(path)
    # Read-only URI: a wrong path must never leave an empty database behind.
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            meta_row = db.execute(
                "SELECT schema_version, read_at, collections, categories, attributes, "
                "pages_json, token_fetches, duration_s FROM read_meta"
            ).fetchone()
            if meta_row is None:
                raise CatalogCacheError(f"PXM catalog cache {path} has no read_meta row")
            if meta_row[0] != SCHEMA_VERSION:
                raise CatalogCacheError(
                    f"PXM catalog cache {path} has schema version {meta_row[0]}, this code "
                    f"reads {SCHEMA_VERSION}; run the daily PXM read again to rewrite it"
                )
            collections = [
                _collection_record(record_json, attributes_json)
                for record_json, attributes_json in db.execute(
                    "SELECT record_json, attributes_json FROM collections ORDER BY rowid"
                )
            ]
            categories = _records(db.execute("SELECT record_json FROM categories ORDER BY rowid"))
            attributes = _records(db.execute("SELECT record_json FROM attributes ORDER BY rowid"))
    except sqlite3.DatabaseError as exc:
        raise CatalogCacheError(f"PXM catalog cache {path} is not readable: {exc}") from None
    meta = CacheMeta(
        read_at=datetime.fromisoformat(meta_row[1]),
        collections=meta_row[2],
        categories=meta_row[3],
        attributes=meta_row[4],
        pages=orjson.loads(meta_row[5]),
        token_fetches=meta_row[6],
        duration_s=meta_row[7],
    )
    return CatalogCache(collections, categories, attributes, meta, path)


def _collection_row(collection: dict[str, Any]) -> tuple[Any, ...]:
    record = {k: v for k, v in collection.items() if k != "attributes"}
    attributes = collection.get("attributes")
    return (
        _scalar(collection.get("id")),
        _text(collection.get("name")),
        _scalar(collection.get("parent_id")),
        _text(collection.get("updated_date")),
        _text(collection.get("collection_type")),
        _dumps(attributes) if "attributes" in collection else None,
        _dumps(record),
    )


def _collection_record(record_json: str, attributes_json: str | None) -> dict[str, Any]:
    record = orjson.loads(record_json)
    if attributes_json is not None:
        record["attributes"] = orjson.loads(attributes_json)
    return record


def _records(rows: Iterable[tuple[str]]) -> list[dict[str, Any]]:
    return [orjson.loads(row[0]) for row in rows]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _scalar(value: Any) -> Any:
    """Ids as PXM sent them when SQLite can hold them; anything else as JSON text."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value
    return _dumps(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
