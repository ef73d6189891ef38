"""Paqtana loads: the master inventory (one PUT a day that replaces the org's inventory) and
historical demand (size-capped POSTs that Paqtana merges; auto_calculate on the last one)."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import orjson
import pandas as pd

from pipelines.core.cadence.endpoints import PAQTANA_HISTORICAL_DEMAND, PAQTANA_MASTER_INVENTORY
from pipelines.core.cadence.ledger import Decision, Operation
from pipelines.core.http import VendorError
from pipelines.core.outbox import paqtana_responder
from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.core.paqtana.demand import build_historical_demand_chunks
from pipelines.core.paqtana.inventory import build_master_inventory
from pipelines.core.paqtana.workspaces import OrgWorkspaces
from pipelines.defs import load_metadata, settings
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.partitions import business_days, partition_days, range_label
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "paqtana"


def _client(
    context: dg.AssetExecutionContext, paqtana: PaqtanaResource, mode: SyncModeResource
) -> PaqtanaClient:
    return paqtana.client(mode.transport(context.run.run_id, VENDOR, paqtana_responder))


def _org_workspaces(client: PaqtanaClient, mode: SyncModeResource) -> OrgWorkspaces | None:
    """Pre-flight: the workspaces the org really has. Skipped in dry-run (no vendor to ask)."""
    if mode.dry_run:
        return None
    return OrgWorkspaces.from_listing(client.org, client.list_workspaces())


def _rejects_metadata(
    erp: ErpExportsResource, asset: str, label: str, rejects: pd.DataFrame
) -> dict:
    path = erp.staging().write_rejects(asset, label, rejects)
    return {"rows_rejected": len(rejects), "rejects_file": dg.MetadataValue.path(str(path))}


def _rows_in_body(body: bytes, endpoint: str, reason: str) -> pd.DataFrame:
    """The rows one request carried, in the rejects-file shape (a refused request's rows)."""
    values = []
    for obj in orjson.loads(body)["data"]:
        key = f"{obj.get('location')} + {obj.get('code')}"
        values += [f"{d} + {key}" for d in obj["dates"]] if "dates" in obj else [key]
    field = "date+location+code" if values and values[0].count(" + ") == 2 else "location+code"
    return pd.DataFrame(
        {"file": endpoint, "line": None, "field": field, "value": values, "reason": reason}
    )


@contextmanager
def _refused_rows_kept(
    erp: ErpExportsResource,
    asset: str,
    label: str,
    build_rejects: pd.DataFrame,
    body: bytes,
    endpoint: str,
) -> Iterator[None]:
    """When Paqtana refuses a request's content (a 4xx other than auth or rate limit), its rows
    join the rejects file with the vendor's reason before the run fails: nothing is lost."""
    try:
        yield
    except VendorError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 403, 429):
            refused = _rows_in_body(body, endpoint, f"refused by Paqtana: {exc.detail or exc}")
            erp.staging().write_rejects(asset, label, pd.concat([build_rejects, refused]))
        raise


@dg.asset(
    group_name="paqtana",
    kinds={"paqtana", "pandas"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    pool="paqtana",
    deps=["erp_items"],
    description="Paqtana master inventory: ONE `PUT /v2/org/{org}/master_inventory` per business "
    "day with every item x location (a full snapshot: the vendor replaces the org's whole "
    "inventory, so it is never split; above 32 MB it fails before sending). Rows whose location "
    "has no workspace the org has are refused before the PUT, and are then absent in Paqtana.",
)
def paqtana_master_inventory(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    paqtana: PaqtanaResource,
    cadence: CadenceGuardResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    items = erp.staging().read_day("erp_items", day)
    with _client(context, paqtana, sync_mode) as client:
        inventory = build_master_inventory(
            items,
            erp.locations(),
            org_workspaces=_org_workspaces(client, sync_mode),
            cap_bytes=paqtana.max_body_bytes,
        )
        meta = {
            "dagster/row_count": inventory.rows,
            "rows_in": len(items),
            **_rejects_metadata(
                erp, context.asset_key.to_user_string(), day.isoformat(), inventory.rejects
            ),
            "body_bytes": len(inventory.body),
            "payload_sha256": inventory.sha256,
            "mode": sync_mode.mode,
        }
        decision = None
        if sync_mode.dry_run:
            client.put_master_inventory(inventory.body)
            meta["outbox"] = dg.MetadataValue.path(
                str(sync_mode.outbox_folder(context.run.run_id, VENDOR))
            )
        else:
            decision = cadence.claim(
                context,
                PAQTANA_MASTER_INVENTORY,
                Operation.WRITE,
                payload_hash=inventory.sha256,
                snapshot=True,
            )
            if decision.allowed:
                with (
                    cadence.attempt(decision, client.stats),
                    _refused_rows_kept(
                        erp,
                        context.asset_key.to_user_string(),
                        day.isoformat(),
                        inventory.rejects,
                        inventory.body,
                        PAQTANA_MASTER_INVENTORY,
                    ),
                ):
                    client.put_master_inventory(inventory.body)
        meta |= load_metadata.traffic(client.stats)
    meta |= load_metadata.cadence(decision, "dry-run: written to the outbox, ledger untouched")
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    group_name="paqtana",
    kinds={"paqtana", "pandas"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="paqtana",
    deps=["erp_demand"],
    description="Paqtana historical demand: daily totals per item x location as "
    "`POST /v2/org/{org}/historical_demand` bodies of at most 32 MB (measured), one series never "
    "split unless it alone is too big; only the LAST request carries `auto_calculate=True`. "
    "Paqtana merges by day + item, so a range backfill (one run) is the initial load; a re-run "
    "after a failure resends only the chunks not yet accepted.",
)
def paqtana_historical_demand(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    paqtana: PaqtanaResource,
    cadence: CadenceGuardResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    first, last = partition_days(context)
    label = range_label(first, last)
    demand = erp.staging().read_days("erp_demand", first, last)
    with _client(context, paqtana, sync_mode) as client:
        built = build_historical_demand_chunks(
            demand,
            erp.locations(),
            paqtana.max_body_bytes,
            org_workspaces=_org_workspaces(client, sync_mode),
        )
        sizes = [c.size_bytes for c in built.chunks]
        meta = {
            "dagster/row_count": built.values,
            "rows_in": len(demand),
            "series": built.series,
            "chunks": len(built.chunks),
            "bytes_per_request": dg.MetadataValue.json(sizes),
            "largest_request_bytes": max(sizes, default=0),
            "byte_cap": built.cap_bytes,
            "mode": sync_mode.mode,
            **_rejects_metadata(erp, context.asset_key.to_user_string(), label, built.rejects),
        }
        payload_hash = hashlib.sha256("".join(c.sha256 for c in built.chunks).encode()).hexdigest()
        decision, note = None, None
        if sync_mode.dry_run:
            for i, chunk in enumerate(built.chunks):
                client.post_historical_demand(chunk.body, auto_calculate=i == len(built.chunks) - 1)
            note = "dry-run: written to the outbox, ledger untouched"
            meta["outbox"] = dg.MetadataValue.path(
                str(sync_mode.outbox_folder(context.run.run_id, VENDOR))
            )
        elif not built.chunks:
            note = cadence.record_noop(
                context, PAQTANA_HISTORICAL_DEMAND, Operation.WRITE, "no demand rows in this range"
            )
        else:
            decision = cadence.claim(
                context,
                PAQTANA_HISTORICAL_DEMAND,
                Operation.WRITE,
                payload_hash=payload_hash,
                backfill_allowed=True,
            )
            if decision.allowed:
                keep_refused = lambda chunk: _refused_rows_kept(  # noqa: E731
                    erp,
                    context.asset_key.to_user_string(),
                    label,
                    built.rejects,
                    chunk.body,
                    PAQTANA_HISTORICAL_DEMAND,
                )
                meta |= _send_demand_chunks(
                    context, client, cadence, decision, built.chunks, keep_refused
                )
        meta |= load_metadata.traffic(client.stats)
    meta |= load_metadata.cadence(decision, note)
    return dg.MaterializeResult(metadata=meta)


def _send_demand_chunks(
    context: dg.AssetExecutionContext,
    client: PaqtanaClient,
    cadence: CadenceGuardResource,
    decision: Decision,
    chunks,  # noqa: ANN001
    keep_refused,  # noqa: ANN001
) -> dict:
    """Send the chunks the ledger has not seen accepted; auto_calculate rides on the last one
    sent. Each accepted chunk is recorded at once, so a crash loses nothing and resends nothing."""
    todo = [(i, c) for i, c in enumerate(chunks) if c.sha256 not in decision.accepted_chunks]
    with cadence.attempt(decision, client.stats):
        for n, (index, chunk) in enumerate(todo):
            last = n == len(todo) - 1
            with keep_refused(chunk):
                client.post_historical_demand(chunk.body, auto_calculate=last)
            cadence.ledger.record_chunk(decision.sync_id, index, chunk.sha256)
            context.log.info(
                f"demand chunk {index + 1}/{len(chunks)} accepted "
                f"({chunk.size_bytes} bytes{', auto_calculate' if last else ''})"
            )
    return {"chunks_sent": len(todo), "chunks_already_accepted": len(chunks) - len(todo)}
