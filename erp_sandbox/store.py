"""The sandbox's state in SQLite, behind one lock: Starlette runs handlers in a threadpool and a
single connection is shared, so every read and write goes through `transaction()`.

A file path keeps state across restarts; ":memory:" is for tests."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from erp_sandbox.clock import iso_z_ms

# (workspaceCode, {ISO day: quantity}) for one location + code.
DemandSeries = tuple[str, dict[str, float]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paqtana_inventory (
    position INTEGER PRIMARY KEY,
    row_json BLOB NOT NULL
);
-- One row per series (location + code) holding {day: quantity}: a year of a few thousand
-- series is thousands of rows, not a million (a million SQLite upserts take ~5 s here).
CREATE TABLE IF NOT EXISTS paqtana_demand_series (
    location TEXT NOT NULL,
    code TEXT NOT NULL,
    workspace_code TEXT NOT NULL,
    days_json BLOB NOT NULL,
    PRIMARY KEY (location, code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS paqtana_demand_posts (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    rows INTEGER NOT NULL,
    points INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    auto_calculate INTEGER NOT NULL,
    query TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pixee_products (
    ean TEXT PRIMARY KEY,
    supplier_code TEXT,
    updated_at TEXT NOT NULL,
    record_json BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pixee_products_by_update ON pixee_products (updated_at, ean);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    vendor TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    status INTEGER,
    body_bytes INTEGER NOT NULL,
    fault TEXT
);
"""

_STATE_TABLES = (
    "paqtana_inventory",
    "paqtana_demand_series",
    "paqtana_demand_posts",
    "pixee_products",
    "requests",
)


class SandboxStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        # Autocommit mode; transaction() issues BEGIN/COMMIT itself so nesting is explicit.
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one SQLite transaction; nested calls join the outer one, so a
        read-modify-write spanning several helpers is atomic."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def reset(self) -> None:
        with self.transaction() as conn:
            for table in _STATE_TABLES:
                conn.execute(f"DELETE FROM {table}")

    # Paqtana ---------------------------------------------------------------------------------

    def replace_inventory(self, rows: list[dict[str, Any]]) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM paqtana_inventory")
            conn.executemany(
                "INSERT INTO paqtana_inventory (position, row_json) VALUES (?, ?)",
                ((i, orjson.dumps(row)) for i, row in enumerate(rows)),
            )

    def inventory(self) -> list[dict[str, Any]]:
        with self.transaction() as conn:
            cursor = conn.execute("SELECT row_json FROM paqtana_inventory ORDER BY position")
            return [orjson.loads(blob) for (blob,) in cursor]

    def merge_demand(self, series: dict[tuple[str, str], DemandSeries]) -> None:
        """Merge daily quantities per (location, code): a day sent again replaces that one
        value; every other stored day stays. The series' workspaceCode is the last one sent."""
        with self.transaction() as conn:
            rows = []
            for (location, code), (workspace, days) in series.items():
                found = conn.execute(
                    "SELECT days_json FROM paqtana_demand_series WHERE location = ? AND code = ?",
                    (location, code),
                ).fetchone()
                merged = {**orjson.loads(found[0]), **days} if found else days
                rows.append((location, code, workspace, orjson.dumps(merged)))
            conn.executemany(
                "INSERT INTO paqtana_demand_series (location, code, workspace_code, days_json) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (location, code) DO UPDATE SET "
                "workspace_code = excluded.workspace_code, days_json = excluded.days_json",
                rows,
            )

    def demand(self) -> list[dict[str, Any]]:
        with self.transaction() as conn:
            cursor = conn.execute(
                "SELECT location, code, workspace_code, days_json FROM paqtana_demand_series "
                "ORDER BY location, code"
            )
            series = list(cursor)
        return [
            {"location": loc, "code": code, "workspaceCode": ws, "date": day, "quantity": qty}
            for loc, code, ws, blob in series
            for day, qty in sorted(orjson.loads(blob).items())
        ]

    def add_demand_post(
        self, time: float, rows: int, points: int, size: int, auto_calculate: bool, query: str
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO paqtana_demand_posts "
                "(time, rows, points, bytes, auto_calculate, query) VALUES (?, ?, ?, ?, ?, ?)",
                (time, rows, points, size, int(auto_calculate), query),
            )

    def demand_posts(self) -> list[dict[str, Any]]:
        with self.transaction() as conn:
            cursor = conn.execute(
                "SELECT time, rows, points, bytes, auto_calculate, query "
                "FROM paqtana_demand_posts ORDER BY id"
            )
            return [
                {
                    "time": iso_z_ms(t),
                    "unix_time": t,
                    "rows": rows,
                    "points": points,
                    "bytes": size,
                    "auto_calculate": bool(auto),
                    "query": query,
                }
                for t, rows, points, size, auto, query in cursor
            ]

    # Pixee -----------------------------------------------------------------------------------

    def product(self, ean: str) -> dict[str, Any] | None:
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT record_json FROM pixee_products WHERE ean = ?", (ean,)
            ).fetchone()
            return orjson.loads(row[0]) if row else None

    def save_product(self, record: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO pixee_products (ean, supplier_code, updated_at, record_json) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (ean) DO UPDATE SET "
                "supplier_code = excluded.supplier_code, updated_at = excluded.updated_at, "
                "record_json = excluded.record_json",
                (
                    record["ean"],
                    record.get("supplier_code"),
                    record["updated_at"],
                    orjson.dumps(record),
                ),
            )

    def delete_product(self, ean: str) -> bool:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM pixee_products WHERE ean = ?", (ean,)).rowcount > 0

    def products(
        self,
        *,
        supplier_code: str | None = None,
        updated_from: str | None = None,
        inclusive: bool = True,
        order: str = "ean",
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of products and the count of all that match. `updated_from` compares the
        stored second-precision ISO text, which sorts in time order."""
        where, args = [], []
        if supplier_code is not None:
            where.append("supplier_code = ?")
            args.append(supplier_code)
        if updated_from is not None:
            where.append("updated_at >= ?" if inclusive else "updated_at > ?")
            args.append(updated_from)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        order_by = "updated_at, ean" if order == "updated" else "ean"
        with self.transaction() as conn:
            (total,) = conn.execute(f"SELECT count(*) FROM pixee_products{clause}", args).fetchone()
            cursor = conn.execute(
                f"SELECT record_json FROM pixee_products{clause} ORDER BY {order_by} "
                "LIMIT ? OFFSET ?",
                [*args, -1 if limit is None else limit, offset],
            )
            return [orjson.loads(blob) for (blob,) in cursor], total

    # Request log -----------------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO requests (time, vendor, method, path, query, status, body_bytes, "
                "fault) VALUES (:time, :vendor, :method, :path, :query, :status, :body_bytes, "
                ":fault)",
                entry,
            )

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT time, vendor, method, path, query, status, body_bytes, fault FROM requests"
        args: tuple[str, ...] = ()
        if vendor is not None:
            sql += " WHERE vendor = ?"
            args = (vendor,)
        with self.transaction() as conn:
            cursor = conn.execute(sql + " ORDER BY id", args)
            names = [d[0] for d in cursor.description]
            entries = [dict(zip(names, row, strict=True)) for row in cursor]
        for entry in entries:
            entry["unix_time"] = entry["time"]
            entry["time"] = iso_z_ms(entry["time"])
        return entries

    def read_counts(self, vendor: str, paths: Iterable[str]) -> list[dict[str, Any]]:
        """GET requests per UTC day per path: how the "one read a day" advice is checked."""
        wanted = list(paths)
        marks = ", ".join("?" for _ in wanted)
        with self.transaction() as conn:
            cursor = conn.execute(
                "SELECT date(time, 'unixepoch') AS day, path, count(*) FROM requests "
                f"WHERE vendor = ? AND method = 'GET' AND path IN ({marks}) "
                "GROUP BY day, path ORDER BY day, path",
                [vendor, *wanted],
            )
            return [{"day": day, "endpoint": path, "requests": n} for day, path, n in cursor]
