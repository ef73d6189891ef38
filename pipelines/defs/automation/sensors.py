"""The ERP-arrival sensor: the newest complete drop in ERP_EXPORT_DIR starts its day's daily_sync.

Each tick lists the export location once (local, SFTP or S3, through the `erp` resource) and
looks up the `_SUCCESS` marker of the drops in the lookback; nothing is downloaded. A location
that cannot be read skips the tick with the reason (URL without credentials, error, what to
check), and the next tick tries again.

A drop is requested once (its day goes into the cursor) and only when:
- it is complete: `_SUCCESS` exists and is older than ERP_DROP_SETTLE_SECONDS, so an ERP that
  writes the marker and then touches the folder again is not raced;
- its day is a business-day partition within the last ERP_DROP_LOOKBACK_DAYS;
- it is newer than every drop the vendors already hold (the ledger's synced days).

Only the NEWEST such drop is requested: its sync carries every day not yet sent (catch-up), so
older ones (a first start over a week of drops, a late drop of an earlier day) are covered by it,
never a burst of runs in random order. A day already run (by this sensor, the schedule
or a person) is not requested again, even when that run failed: the failure alert tells a
person, who re-runs it; asking every minute would repeat the error.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import dagster as dg

from pipelines.core.cadence.endpoints import DAILY_WRITES
from pipelines.core.cadence.ledger import synced_days
from pipelines.core.erp.drops import SUCCESS_MARKER, Drop, list_drops
from pipelines.core.erp.export_store import ExportStoreError
from pipelines.defs import settings
from pipelines.defs.erp.resources import ErpExportStoreResource
from pipelines.defs.jobs import daily_sync
from pipelines.defs.partitions import business_days
from pipelines.defs.state_db import StateDatabaseResource

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
    covered: list[str] = field(default_factory=list)  # older than a drop already held or sent
    not_partition: list[str] = field(default_factory=list)
    too_old: list[str] = field(default_factory=list)

    @property
    def newest_ready(self) -> str | None:
        return max(self.ready) if self.ready else None

    def summary(self, export_dir: str, settle_s: int, lookback_days: int) -> str:
        if not any(vars(self).values()):
            return f"no dated drop folder in {export_dir}"
        parts = [
            (self.incomplete, f"incomplete (no {SUCCESS_MARKER} yet: still being written)"),
            (self.settling, f"with a {SUCCESS_MARKER} younger than {settle_s} s (next tick)"),
            (self.requested, "already requested"),
            (self.synced, "already synced on every daily write"),
            (self.covered, "older than a drop already synced (the catch-up carries their demand)"),
            (self.not_partition, "not a business-day partition (SYNC_PARTITIONS_START)"),
            # not looked into: a marker look-up per old drop per tick would grow with the history
            (
                self.too_old,
                f"older than the {lookback_days}-day lookback, complete or not (backfill on "
                "purpose)",
            ),
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
    newest_synced = max(synced, default=None)
    for drop in drops:
        day = drop.day.isoformat()
        if not is_partition(day):
            triage.not_partition.append(day)
        elif drop.day < oldest_day:
            triage.too_old.append(day)
        elif not drop.complete:
            triage.incomplete.append(day)
        elif day in requested:
            triage.requested.append(day)
        elif drop.day in synced:
            triage.synced.append(day)
        elif newest_synced is not None and drop.day < newest_synced:
            triage.covered.append(day)
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
    """Days already requested (or left to a newer drop's catch-up): a JSON list of ISO days."""
    if not cursor:
        return set()
    return {str(day) for day in json.loads(cursor)}


def write_cursor(days: set[str]) -> str:
    return json.dumps(sorted(days)[-CURSOR_MAX_DAYS:])


def launched_elsewhere(instance: dg.DagsterInstance, day: str) -> bool:
    """A daily_sync of `day` already exists (launched by the schedule or by hand)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(job_name=daily_sync.name, tags={"dagster/partition": day}), limit=1
    )
    return bool(runs)


@dg.sensor(
    name="erp_drop_sensor",
    job=daily_sync,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Starts daily_sync for the newest complete ERP drop (folder with _SUCCESS) in "
        "ERP_EXPORT_DIR that is newer than what the vendors hold; its send catches up the rest."
    ),
)
def erp_drop_sensor(
    context: dg.SensorEvaluationContext,
    erp: ErpExportStoreResource,
    state_db: StateDatabaseResource,
) -> dg.SensorResult:
    requested = read_cursor(context.cursor)
    today = state_db.ledger().today()
    try:
        with erp.export_store() as exports:
            export_dir = exports.location
            triage = triage_drops(  # looks up the markers: inside, while connected
                list_drops(exports),
                requested=requested,
                synced=synced_days(state_db.ledger(), DAILY_WRITES),
                is_partition=business_days.has_partition_key,
                oldest_day=today - dt.timedelta(days=settings.DROP_LOOKBACK_DAYS),
                now=time.time(),
                settle_s=settings.DROP_SETTLE_SECONDS,
            )
    except ExportStoreError as exc:  # the next tick tries again; the cursor is kept
        context.log.warning(str(exc))
        return dg.SensorResult(skip_reason=str(exc), cursor=write_cursor(requested))
    newest = triage.newest_ready
    if newest is not None and launched_elsewhere(context.instance, newest):
        # the schedule or a person already ran it; a failure there alerted a person
        triage.ready.remove(newest)
        triage.requested.append(newest)
        newest = triage.newest_ready
    # the older ready drops are covered by the newest one's catch-up: never requested
    cursor = write_cursor(requested | set(triage.ready) | set(triage.requested))
    if newest is None:
        return dg.SensorResult(
            skip_reason=triage.summary(
                export_dir, settings.DROP_SETTLE_SECONDS, settings.DROP_LOOKBACK_DAYS
            ),
            cursor=cursor,
        )
    older = sorted(set(triage.ready) - {newest})
    context.log.info(
        f"complete ERP drop to sync: {newest}"
        + (f" (its catch-up covers {', '.join(older)})" if older else "")
    )
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=newest, partition_key=newest)], cursor=cursor
    )
