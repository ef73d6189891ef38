from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from pipelines.core.pxm.cache import (
    CatalogCacheError,
    CatalogCacheMissingError,
    read_catalog_cache,
    write_catalog_cache,
)
from pipelines.core.pxm.client import CatalogRead

READ_AT = datetime(2026, 6, 19, 5, 30, tzinfo=UTC)
PARENT = {
    "id": 101,
    "name": "Support TV",
    "parent_id": None,
    "updated_date": "2026-06-18T09:00:00Z",
    "additional_title": "Fixe",
    "region_ids": [1, 2],
    "collection_type": "parent",
    "attributes": [
        {"id": 7, "label": "EAN", "value": "3760000000001"},
        {"id": 9, "label": "Colours", "value": ["black", "white"]},
    ],
}
VARIANT = {
    "id": "v-102",
    "name": "Support TV noir",
    "parent_id": 101,
    "updated_date": "2026-06-18T09:05:00Z",
    "collection_type": "variant",
    "attributes": [],
}
BARE = {"id": 103, "name": "No attributes key"}


def catalog_read(**overrides) -> CatalogRead:
    fields = {
        "collections": [PARENT, VARIANT, BARE],
        "categories": [{"id": 1, "name": "TV", "parent_id": None}, {"id": 2, "name": "Wall"}],
        "attributes": [{"id": 7, "label": "EAN", "type": "text"}],
        "pages": {"/v2.1/collection": 1, "/v2.1/category": 1, "/v2.1/attribute": 1},
        "token_fetches": 1,
        "duration_s": 2.5,
        "read_at": READ_AT,
    }
    return CatalogRead(**(fields | overrides))


def test_cache_round_trip_gives_back_what_the_read_returned(tmp_path: Path) -> None:
    path = write_catalog_cache(catalog_read(), tmp_path / "pxm" / "catalog.sqlite")
    cache = read_catalog_cache(path)
    assert cache.collections == [PARENT, VARIANT, BARE]
    assert cache.categories == [
        {"id": 1, "name": "TV", "parent_id": None},
        {"id": 2, "name": "Wall"},
    ]
    assert cache.attributes == [{"id": 7, "label": "EAN", "type": "text"}]
    assert cache.meta.read_at == READ_AT
    assert (cache.meta.collections, cache.meta.categories, cache.meta.attributes) == (3, 2, 1)
    assert cache.meta.pages["/v2.1/collection"] == 1
    assert (cache.meta.token_fetches, cache.meta.duration_s) == (1, 2.5)


def test_cache_tables_hold_the_named_columns_for_sql_readers(tmp_path: Path) -> None:
    path = write_catalog_cache(catalog_read(), tmp_path / "catalog.sqlite")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT id, name, parent_id, updated_date, collection_type, attributes_json "
            "FROM collections ORDER BY rowid"
        ).fetchall()
        meta = db.execute("SELECT read_at, collections FROM read_meta").fetchall()
        children = db.execute(
            "SELECT c.id FROM collections c JOIN collections p ON c.parent_id = p.id"
        ).fetchall()
    assert rows[0][:5] == (101, "Support TV", None, "2026-06-18T09:00:00Z", "parent")
    assert orjson.loads(rows[0][5]) == PARENT["attributes"]
    assert rows[1][:5] == ("v-102", "Support TV noir", 101, "2026-06-18T09:05:00Z", "variant")
    assert rows[2] == (103, "No attributes key", None, None, None, None)
    assert meta == [("2026-06-19T05:30:00+00:00", 3)]
    assert children == [("v-102",)]


def test_a_new_read_replaces_the_cache_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    write_catalog_cache(catalog_read(), path)
    write_catalog_cache(catalog_read(collections=[BARE], token_fetches=2), path)
    cache = read_catalog_cache(path)
    assert cache.collections == [BARE]
    assert cache.meta.token_fetches == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.sqlite"]


def test_a_failed_write_keeps_the_previous_cache(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    write_catalog_cache(catalog_read(), path)
    unserialisable = {"id": 1, "name": "x", "attributes": [{"value": object()}]}
    with pytest.raises(TypeError):
        write_catalog_cache(catalog_read(collections=[unserialisable]), path)
    assert read_catalog_cache(path).collections == [PARENT, VARIANT, BARE]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.sqlite"]


def test_a_missing_cache_names_the_path_and_how_to_fill_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "catalog.sqlite"
    with pytest.raises(CatalogCacheMissingError) as raised:
        read_catalog_cache(path)
    message = str(raised.value)
    assert str(path) in message
    assert "write_catalog_cache" in message
    assert "daily PXM read" in message
    assert isinstance(raised.value, FileNotFoundError)
    assert not path.parent.exists()  # reading never creates anything


def test_a_file_that_is_not_a_cache_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_text("not sqlite at all")
    with pytest.raises(CatalogCacheError, match="is not readable"):
        read_catalog_cache(path)
