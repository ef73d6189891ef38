"""Event log storages, timed: bench/backfill.py names one in the bench instance's dagster.yaml,
so every process of the run (the run worker, each step process, the command that creates the
run) appends one line per write to BENCH_EVENT_TIMING_DIR/<pid>.tsv: the event type, how many
events, the seconds the write took. Only the bench uses them.

- TimedSqliteEventLogStorage: Dagster's own SQLite storage (one write per event);
- TimedBatchedSqliteEventLogStorage: the project's (pipelines/defs/event_log_storage.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dagster._core.storage.event_log import SqliteEventLogStorage

from pipelines.defs.event_log_storage import BatchedSqliteEventLogStorage


class _Timed:
    _sink: Any = None
    _batch = False

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
        return cls(inst_data=inst_data, **config_value)

    def store_event(self, event: Any) -> None:
        started = time.perf_counter()
        super().store_event(event)  # type: ignore[misc]
        if not self._batch:  # a batch's events count in the batch's write
            self._write(_kind(event), 1, 1, time.perf_counter() - started)

    def store_event_batch(self, events: Any) -> None:
        """One line for the batch: its first event's type, its events, the writes it took
        (one, or one an event where the storage writes them one by one)."""
        started, self._batch = time.perf_counter(), True
        try:
            super().store_event_batch(events)  # type: ignore[misc]
        finally:
            self._batch = False
        batched = isinstance(self, BatchedSqliteEventLogStorage)
        self._write(
            _kind(events[0]),
            len(events),
            1 if batched else len(events),
            time.perf_counter() - started,
        )

    def _write(self, kind: str, count: int, writes: int, seconds: float) -> None:
        folder = os.environ.get("BENCH_EVENT_TIMING_DIR")
        if not folder:
            return
        if self._sink is None or self._sink[0] != os.getpid():
            path = Path(folder) / f"{os.getpid()}.tsv"
            self._sink = (os.getpid(), path.open("a", buffering=1))
        self._sink[1].write(f"{kind}\t{count}\t{writes}\t{seconds:.6f}\n")


def _kind(event: Any) -> str:
    return event.dagster_event_type.value if event.dagster_event_type else "LOG_MESSAGE"


class TimedSqliteEventLogStorage(_Timed, SqliteEventLogStorage):
    pass


class TimedBatchedSqliteEventLogStorage(_Timed, BatchedSqliteEventLogStorage):
    pass
