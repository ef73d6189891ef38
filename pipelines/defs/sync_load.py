"""The Dagster side of a load, the same for every endpoint: build the ledger request from the run,
run the core sync engine, and turn its result into the metadata a person reads first (what was
decided, sent, refused, failed, and where the requests went)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from pipelines.core.cadence.endpoints import Endpoint
from pipelines.core.erp.drops import newer_complete_drop
from pipelines.core.http import CallStats
from pipelines.core.sync.dry_run import DryRunLedger
from pipelines.core.sync.engine import (
    SendBlockedError,
    Sender,
    SendResult,
    StateWriter,
    run_send,
)
from pipelines.core.sync.units import SendPlan
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.figures import megabytes, status_table
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Run tags a person sees in the runs list and under "View tags and config" on the run page.
REQUESTS_TO_TAG = "erp_sync/requests_to.{vendor}"
RE_SEND_TAG = "erp_sync/re-send"
# The Launchpad config that re-sends the run's day past the daily limit, on one line so that it
# is one paste away ("Open in Launchpad" from the run keeps its partition).
RE_SEND_CONFIG = 'resources: {cadence: {config: {force: true, reason: "<why the day goes again>"}}}'


def tag_run(instance: dg.DagsterInstance, run_id: str, tags: dict[str, str]) -> None:
    """Add `tags` to the run. Steps of one run add theirs at the same moment (each to its own
    keys); the storage rewrites the run's tags whole, so one write can drop another's: written
    again until the run holds them."""
    for _attempt in range(5):
        instance.add_run_tags(run_id, tags)
        run = instance.get_run_by_id(run_id)
        if run is None or all(run.tags.get(k) == v for k, v in tags.items()):
            return
        time.sleep(0.05 + random.random() * 0.2)


def send(
    context: dg.AssetExecutionContext,
    endpoint: Endpoint,
    plan: SendPlan,
    sender: Sender,
    *,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
    state: StateWriter | None = None,
    data_as_of: dt.date | None = None,
) -> SendResult:
    """One send of `plan` through the engine. A send blocked by another live attempt fails the
    step with the reason and when to retry; it never materializes as if the day were done."""
    request = cadence.request(
        context, endpoint, payload_hash=plan.payload_hash, data_as_of=data_as_of
    )
    tag_run(context.instance, context.run.run_id, {RE_SEND_TAG: RE_SEND_CONFIG})
    ledger = state_db.ledger()
    try:
        return run_send(
            plan,
            request,
            DryRunLedger(ledger) if sync_mode.dry_run else ledger,
            sender,
            state=None if sync_mode.dry_run else state,
            wait=cadence.wait_policy(),
            log=context.log.info,
            heartbeat_s=max(1.0, state_db.lease.total_seconds() / 4),
        )
    except SendBlockedError as exc:
        raise dg.Failure(description=str(exc)) from None


def superseded_snapshot(erp: ErpExportsResource, day: dt.date) -> str | None:
    """Why the snapshot of `day` must not be sent: the ERP has a newer complete drop."""
    with erp.export_store() as exports:
        newer = newer_complete_drop(exports, day)
    if newer is None:
        return None
    return (
        f"the ERP's newer complete drop of {newer.day} replaces the {day} snapshot; the run "
        f"for {newer.day} sends it (older_snapshot with a reason sends this one on purpose)"
    )


def destination(sync_mode: SyncModeResource, base_url: str, run_id: str, vendor: str) -> str:
    """Where the requests went, never with a secret: `live: api.paqtana.com`, `sandbox:
    127.0.0.1:8765` (a vendor on this machine), `dry-run: outbox <folder>`."""
    if sync_mode.dry_run:
        return f"dry-run: outbox {sync_mode.outbox_folder(run_id, vendor)}"
    parts = urlsplit(base_url)
    where = parts.hostname or base_url
    if parts.port:
        where += f":{parts.port}"
    return f"{'sandbox' if parts.hostname in LOOPBACK_HOSTS else 'live'}: {where}"


def requests_to(
    context: dg.AssetExecutionContext, sync_mode: SyncModeResource, base_url: str, vendor: str
) -> str:
    """`destination`, also put on the run as a tag, so the runs list says where it sent."""
    where = destination(sync_mode, base_url, context.run.run_id, vendor)
    tag_run(context.instance, context.run.run_id, {REQUESTS_TO_TAG.format(vendor=vendor): where})
    return where


def headline(
    result: SendResult, *, sent: int, refused: int, failed: int, requests_to: str
) -> dict[str, Any]:
    """The first rows of every load's metadata, in the order a person on call reads them."""
    return {
        "cadence": result.cadence,
        "sent": sent,
        "refused": refused,
        "failed": failed,
        "requests_to": requests_to,
    }


def traffic(stats: CallStats | None) -> dict[str, Any]:
    if stats is None or not stats.requests:
        return {"requests_sent": 0}
    rows = [
        "| # | method | endpoint | status | bytes | seconds | attempt |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(stats.requests[:50], 1):
        status = r.status if r.status is not None else "no answer"
        size = f"{r.bytes_sent:,}"
        cells = [i, r.method, r.endpoint, status, size, f"{r.seconds:.2f}", r.attempt]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    if len(stats.requests) > 50:
        rows.append(f"| ... | {len(stats.requests) - 50} more | | | | | |")
    return {
        "requests_sent": len(stats.requests),
        "status_codes": status_table(stats.status_counts()),
        "bytes_sent": megabytes(stats.bytes_sent),
        "retries": stats.retries,
        "seconds_waited": round(stats.waited_s, 3),
        "requests": dg.MetadataValue.md("\n".join(rows)),
        # the daily sync report tells writes from reads (a skipped write still reads)
        "requests_by_method": dg.MetadataValue.json(
            dict(Counter(r.method for r in stats.requests))
        ),
    }


def failures_table(failures: dict[str, str], key: str, limit: int = 25) -> dg.MetadataValue:
    rows = [f"| {key} | vendor message |", "|---|---|"]
    for k, message in list(failures.items())[:limit]:
        rows.append(f"| {k} | {str(message).replace('|', '/')} |")
    if len(failures) > limit:
        rows.append(f"| ... | {len(failures) - limit} more in the rejects file |")
    return dg.MetadataValue.md("\n".join(rows))


def send_figures(result: SendResult) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "units": result.units,
        "units_sent": result.units_sent,
        "units_already_accepted": result.units_already_accepted,
    }
    if result.units_refused:
        figures["units_refused"] = result.units_refused
    if result.safeguards:
        figures["safeguards"] = dg.MetadataValue.md(
            "\n".join(
                ["| safeguard | passed | why |", "|---|---|---|"]
                + [
                    f"| {s.name} | {'yes' if s.passed else 'NO'} | {s.reason} |"
                    for s in result.safeguards
                ]
            )
        )
    return figures
