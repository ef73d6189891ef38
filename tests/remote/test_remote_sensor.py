"""The drop sensor over SFTP and S3: one listing per tick and a marker look-up per drop in the
lookback, nothing downloaded; the same run request (the newest ready drop), settle time and
cursor as locally."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from pipelines.core.erp.export_store import ExportLocation, ExportStore
from pipelines.defs import settings
from pipelines.defs.automation.sensors import erp_drop_sensor
from pipelines.defs.erp.resources import ErpExportStoreResource
from pipelines.defs.partitions import business_days
from pipelines.defs.state_db import StateDatabaseResource
from tests.e2e.helpers import write_drop
from tests.remote.helpers import export_store_fields

TODAY = dt.datetime.now(ZoneInfo(business_days.timezone)).date()
FS_CALLS: Counter[str] = Counter()


def days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


class _CountingFilesystem:
    """The real filesystem, counting each method called on it."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._fs, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            FS_CALLS[name] += 1
            return attr(*args, **kwargs)

        return counted


class CountingExportStoreResource(ErpExportStoreResource):
    """The sensor's resource with every filesystem call counted in FS_CALLS."""

    @contextmanager
    def export_store(self) -> Iterator[ExportStore]:
        with super().export_store() as store:
            store.fs = _CountingFilesystem(store.fs)
            yield store


def resource_for(location: ExportLocation, cls: type = ErpExportStoreResource):
    return cls(**export_store_fields(location))


def tick(erp: ErpExportStoreResource, cursor: str | None = None):
    from pipelines.definitions import defs

    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            definitions=defs,
            resources={"erp": erp, "state_db": StateDatabaseResource()},
        ) as context,
    ):
        return erp_drop_sensor.evaluate_tick(context)


def exports_with_drops(tmp_path: Path) -> Path:
    """Complete drops 3 and 2 days ago, one still being written yesterday, one too old."""
    exports = tmp_path / "exports"
    for day in (days_ago(30), days_ago(3), days_ago(2), days_ago(1)):
        write_drop(exports, day)
        settled = time.time() - 120
        os.utime(exports / day / "_SUCCESS", (settled, settled))
    (exports / days_ago(1) / "_SUCCESS").unlink()
    return exports


def test_each_tick_lists_once_looks_up_markers_and_downloads_nothing(tmp_path, locate, monkeypatch):
    monkeypatch.setattr(settings, "DROP_SETTLE_SECONDS", 0)  # S3 markers are new
    location = locate(exports_with_drops(tmp_path))
    erp = resource_for(location, CountingExportStoreResource)
    FS_CALLS.clear()

    first = tick(erp)

    # the newest ready drop only; its catch-up covers the older one, never requested
    assert [(r.run_key, r.partition_key) for r in first.run_requests] == [
        (days_ago(2), days_ago(2))
    ]
    assert json.loads(first.cursor) == [days_ago(3), days_ago(2)]
    # one listing of the root; a marker look-up for each drop in the lookback, none for the
    # drop 30 days old; no file opened, read or copied
    assert FS_CALLS == {"ls": 1, "info": 3}

    second = tick(erp, cursor=first.cursor)

    assert second.run_requests == []
    assert json.loads(second.cursor) == [days_ago(3), days_ago(2)]
    assert second.skip_message == (
        f"no drop to sync in {location.url}: 1 incomplete (no _SUCCESS yet: still being "
        f"written): {days_ago(1)}; 2 already requested: {days_ago(3)}, {days_ago(2)}; 1 older "
        f"than the 7-day lookback, complete or not (backfill on purpose): {days_ago(30)}"
    )


def test_a_remote_marker_younger_than_the_settle_time_waits(tmp_path, locate, monkeypatch):
    monkeypatch.setattr(settings, "DROP_SETTLE_SECONDS", 3600)
    location = locate(exports_with_drops(tmp_path))

    result = tick(resource_for(location))

    assert result.run_requests == []
    assert json.loads(result.cursor) == []
    assert (
        f"2 with a _SUCCESS younger than 3600 s (next tick): {days_ago(3)}, {days_ago(2)}"
        in result.skip_message
    )


@pytest.mark.parametrize("scheme", ["sftp", "s3"])
def test_a_tick_that_cannot_reach_the_remote_skips_with_the_reason_and_keeps_the_cursor(
    scheme, unreachable
):
    location = unreachable(scheme)
    cursor = json.dumps([days_ago(5)])

    started = time.monotonic()
    result = tick(resource_for(location), cursor=cursor)

    assert time.monotonic() - started < 30
    assert result.run_requests == []
    assert result.cursor == cursor
    assert result.skip_message.startswith(f"cannot read the ERP export location {location.url} (")
    assert "; check " in result.skip_message
    assert not [s for s in location.secrets if s in result.skip_message]
