"""Dagster's SQLite event log, writing a range run's per-partition asset events in one
transaction per batch instead of one (or three) each.

A run over a range of days (the year-long `demand_backfill`, a catch-up of daily_sync) stores,
for each asset, one ASSET_MATERIALIZATION_PLANNED event per day when the run is created and one
ASSET_MATERIALIZATION per day when the step ends: 1,460 events for a year of the two demand
assets. Dagster's SQLite storage writes each on its own (a new engine and connection, a commit on
the run's database and another on the index database): 12 ms an event here, 18 s of a one-run
year-long backfill. Dagster already hands these events over in batches (`store_event_batch`)
when DAGSTER_EVENT_BATCH_SIZE is above 0, and its PostgreSQL storage writes a batch at once; its
SQLite storage still writes them one by one. This class writes a batch in two transactions, the
same rows and the same per-partition state (materialized, in progress, failed) as before.

Use it in the instance's dagster.yaml (the Makefile's local instance does):

    event_log_storage:
      module: pipelines.defs.event_log_storage
      class: BatchedSqliteEventLogStorage
      config:
        base_dir: <DAGSTER_HOME>/history/runs

Loading it turns batching on (DAGSTER_EVENT_BATCH_SIZE, unless set) in every process that opens
this instance: the webserver and daemon that create runs, each run and step process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result

BATCH_SIZE = "1000"
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", BATCH_SIZE)

# What Dagster batches in a range run; anything else keeps the one-by-one path.
BATCHED = frozenset(
    {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_MATERIALIZATION_PLANNED}
)


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose `store_event_batch` writes a batch in one transaction on the
    run's database and one on the index database."""

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Consecutive asset events of one run in one batched write each; any other event (a
        run's planned asset checks come in the same batch) on its own, in order."""
        group: list[EventLogEntry] = []
        for event in events:
            if event.dagster_event_type in BATCHED and (
                not group or group[0].run_id == event.run_id
            ):
                group.append(event)
                continue
            self._store_group(group)
            group = []
            if event.dagster_event_type in BATCHED:
                group.append(event)
            else:
                self.store_event(event)
        self._store_group(group)

    def _store_group(self, events: Sequence[EventLogEntry]) -> None:
        if len(events) < 2:
            for event in events:
                self.store_event(event)
            return
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        # What store_event does for an asset event, for the whole batch: mirrored in the index
        # database and its tags indexed; the asset's row keeps only "last" values, so it is
        # updated from the last event of each asset and kind (as Dagster's PostgreSQL storage
        # does), which leaves it as event-by-event updates would.
        with self.index_transaction() as conn:
            ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, ids)
            last = {
                (e.dagster_event.asset_key, e.dagster_event_type): i for i, e in enumerate(events)
            }
            for i in sorted(last.values()):
                self._store_asset_event(conn, events[i], ids[i])


def instance_yaml_section(
    base_dir: str | os.PathLike, storage: type[SqliteEventLogStorage] | None = None
) -> str:
    """The dagster.yaml lines that select `storage` (this one unless told) with its runs under
    `base_dir`: what the Makefile writes for the local instance, for tests and benches that make
    an instance of their own."""
    storage = storage or BatchedSqliteEventLogStorage
    return (
        f"event_log_storage:\n  module: {storage.__module__}\n  class: {storage.__qualname__}\n"
        f"  config:\n    base_dir: {base_dir}\n"
    )
