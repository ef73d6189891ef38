"""The ERP-arrival sensor: a complete drop in ERP_EXPORT_DIR starts that day's daily_sync.

Each tick lists the export location once (local, SFTP or S3, through the `erp` resource) and
looks up the `_SUCCESS` marker of the drops in the lookback; nothing is downloaded. A location
that cannot be read skips the tick with the reason (URL without credentials, error, what to
check), and the next tick tries again.

A drop is requested once (its day goes into the cursor) and only when:
- it is complete: `_SUCCESS` exists and is older than ERP_DROP_SETTLE_SECONDS, so an ERP that
  writes the marker and then touches the folder again is not raced;
- its day is a business-day partition and within the last ERP_DROP_LOOKBACK_DAYS;
- the cadence ledger does not already show the day done on every daily write.

A requested day whose run fails is not requested again: the failure alert tells a person, who
re-runs it (or the schedule does); asking again every minute would repeat the same error.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.core.cadence.endpoints import DAILY_WRITES
from pipelines.core.cadence.ledger import CadenceLedger, synced_days
from pipelines.core.erp.drops import SUCCESS_MARKER, Drop, list_drops
from pipelines.core.erp.export_store import ExportStoreError
from pipelines.core.state_db import make_engine
from pipelines.defs import settings
from pipelines.defs.automation import settings as automation_settings
from pipelines.defs.cadence.resources import state_db_url
from pipelines.defs.erp.resources import ErpExportStoreResource
from pipelines.defs.jobs import daily_sync
from pipelines.defs.partitions import business_days

# Days kept in the cursor; older ones are outside any sensible lookback anyway.
CURSOR_MAX_DAYS = 400


@dataclass
class DropTriage:
    """What one look at the export folder found, by the reason each drop is (not) requested."""

    ready: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    settling: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    out_of_range: list[str] = field(default_factory=list)

    def summary(self, export_dir: str, settle_s: int) -> str:
        if not any(vars(self).values()):
            return f"no dated drop folder in {export_dir}"
        parts = [
            (self.incomplete, f"without {SUCCESS_MARKER} (still being written)"),
            (self.settling, f"with a {SUCCESS_MARKER} younger than {settle_s} s (next tick)"),
            (self.requested, "already requested"),
            (self.synced, "already synced on every daily write"),
            (self.out_of_range, "not a partition or older than the lookback"),
        ]
        found = "; ".join(f"{len(days)} {why}: {_days(days)}" for days, why in parts if days)
        return f"no drop to sync in {export_dir}: {found}"


def _days(days: list[str], shown: int = 5) -> str:
    listed = ", ".join(days[-shown:])
    return listed if len(days) <= shown else f"... {listed}"


def triage_drops(
    drops: Iterable[Drop],
    *,
    requested: set[str],
    synced: set[dt.date],
    is_partition: Callable[[str], bool],
    oldest_day: dt.date,
    now: float,
    settle_s: int,
) -> DropTriage:
    triage = DropTriage()
    for drop in drops:
        day = drop.day.isoformat()
        if drop.day < oldest_day or not is_partition(day):
            triage.out_of_range.append(day)
        elif not drop.complete:
            triage.incomplete.append(day)
        elif day in requested:
            triage.requested.append(day)
        elif drop.day in synced:
            triage.synced.append(day)
        elif _marker_age(drop, now) < settle_s:
            triage.settling.append(day)
        else:
            triage.ready.append(day)
    return triage


def _marker_age(drop: Drop, now: float) -> float:
    if drop.marker_mtime is None:  # removed since we looked: treat as brand new
        return 0.0
    return now - drop.marker_mtime


def read_cursor(cursor: str | None) -> set[str]:
    """Days already requested. The cursor is a JSON list of ISO days."""
    if not cursor:
        return set()
    return {str(day) for day in json.loads(cursor)}


def write_cursor(days: set[str]) -> str:
    return json.dumps(sorted(days)[-CURSOR_MAX_DAYS:])


def ledger_synced_days(instance: dg.DagsterInstance) -> set[dt.date]:
    """Days done on every daily write, from the ledger in the instance's own database."""
    engine = make_engine(state_db_url(instance))
    try:
        return synced_days(CadenceLedger(engine, timezone=settings.TIMEZONE), DAILY_WRITES)
    finally:
        engine.dispose()


@dg.sensor(
    name="erp_drop_sensor",
    job=daily_sync,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts daily_sync for each new complete ERP drop (folder with _SUCCESS) in "
        "ERP_EXPORT_DIR that the cadence ledger does not show as synced."
    ),
)
def erp_drop_sensor(
    context: dg.SensorEvaluationContext, erp: ErpExportStoreResource
) -> dg.SensorResult:
    requested = read_cursor(context.cursor)
    today = dt.datetime.now(ZoneInfo(business_days.timezone)).date()
    try:
        with erp.export_store() as exports:
            export_dir = exports.location
            triage = triage_drops(
                list_drops(exports),
                requested=requested,
                synced=ledger_synced_days(context.instance),
                is_partition=business_days.has_partition_key,
                oldest_day=today - dt.timedelta(days=automation_settings.DROP_LOOKBACK_DAYS),
                now=time.time(),
                settle_s=automation_settings.DROP_SETTLE_SECONDS,
            )
    except ExportStoreError as exc:  # the next tick tries again; the cursor is kept
        context.log.warning(str(exc))
        return dg.SensorResult(skip_reason=str(exc), cursor=write_cursor(requested))
    cursor = write_cursor(requested | set(triage.ready))
    if not triage.ready:
        return dg.SensorResult(
            skip_reason=triage.summary(export_dir, automation_settings.DROP_SETTLE_SECONDS),
            cursor=cursor,
        )
    context.log.info(f"complete ERP drops to sync: {', '.join(triage.ready)}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=day, partition_key=day) for day in triage.ready],
        cursor=cursor,
    )
