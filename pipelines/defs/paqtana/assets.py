"""Paqtana loads: the master inventory (one PUT a day that replaces the org's inventory) and
historical demand (size-capped POSTs that Paqtana merges; auto_calculate on the last one). Each
builds its bodies and hands them to the sync engine (`pipelines/core/sync/engine.py`)."""

import dagster as dg
import pandas as pd

from pipelines.core.cadence.endpoints import PAQTANA_HISTORICAL_DEMAND, PAQTANA_MASTER_INVENTORY
from pipelines.core.erp.drops import complete_drops
from pipelines.core.outbox import paqtana_responder
from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.core.paqtana.demand import build_historical_demand_chunks
from pipelines.core.paqtana.demand_days import DemandDaysWriter, accepted_digests, day_digests
from pipelines.core.paqtana.inventory import build_master_inventory
from pipelines.core.paqtana.sync import (
    DEMAND_KEY_FIELD,
    INVENTORY_KEY_FIELD,
    DemandSender,
    InventorySender,
    demand_plan,
    inventory_plan,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces
from pipelines.core.rejects import concat_rejects, item_rejects, vendor_refusal
from pipelines.core.sync.engine import SendOutcome, SendResult
from pipelines.defs import settings, sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.partitions import (
    daily_asset,
    demand_window,
    is_demand_backfill,
    partition_days,
    range_label,
)
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
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


def _finish(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    label: str,
    result: SendResult,
    build_rejects: pd.DataFrame,
    key_field: str,
    meta: dict,
) -> dg.MaterializeResult:
    """Every row refused, before sending or by Paqtana, goes to the rejects file; a request
    Paqtana refused fails the step (after the other units were sent) with its reason."""
    endpoint = f"{VENDOR} {context.asset_key.to_user_string()}"
    refused_by_vendor = item_rejects(
        endpoint,
        key_field,
        ((item, vendor_refusal("Paqtana", why)) for item, why in result.refused.items()),
    )
    rejects = concat_rejects([build_rejects, refused_by_vendor], sort=False)
    path = staging.store().write_rejects(context.asset_key.to_user_string(), label, rejects)
    meta |= {"rows_rejected": len(build_rejects), "rejects_file": dg.MetadataValue.path(str(path))}
    if result.outcome is SendOutcome.REFUSED:
        first = next(iter(result.refused.values()), "")
        raise dg.Failure(
            description=f"Paqtana refused {result.units_refused} of {result.units} request(s) "
            f"({len(result.refused)} row(s), kept in {path}): {first}",
            metadata=meta,
        )
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    **daily_asset("paqtana", kinds={"paqtana", "pandas"}),
    pool="paqtana",
    deps=["erp_items"],
    description="Paqtana master inventory: ONE `PUT /v2/org/{org}/master_inventory` per business "
    "day with every item x location (a full snapshot: the vendor replaces the org's whole "
    "inventory, so it is never split; above 32 MB it fails before sending). Rows whose location "
    "has no workspace the org has are refused before the PUT, and are then absent in Paqtana.",
)
def paqtana_master_inventory(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    erp: ErpExportsResource,
    paqtana: PaqtanaResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    items = staging.store().read_day("erp_items", day)
    with _client(context, paqtana, sync_mode) as client:
        inventory = build_master_inventory(
            items,
            erp.locations(),
            org_workspaces=_org_workspaces(client, sync_mode),
            cap_bytes=paqtana.body_cap_bytes,
        )
        plan = inventory_plan(inventory)
        plan.superseded = sync_load.superseded_snapshot(erp, day)
        result = sync_load.send(
            context,
            PAQTANA_MASTER_INVENTORY,
            plan,
            InventorySender(client),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            data_as_of=day,
        )
    meta = sync_load.headline(
        result,
        sent=inventory.rows if result.sent else 0,
        refused=len(inventory.rejects),
        failed=len(result.refused),
        requests_to=sync_load.destination(sync_mode, paqtana.url, context.run.run_id, VENDOR),
    ) | {
        "dagster/row_count": inventory.rows,
        "rows_in": len(items),
        "body_bytes": len(inventory.body),
        "payload_sha256": inventory.sha256,
        **sync_load.traffic(client.stats),
    }
    return _finish(
        context, staging, day.isoformat(), result, inventory.rejects, INVENTORY_KEY_FIELD, meta
    )


@dg.asset(
    **daily_asset("paqtana", kinds={"paqtana", "pandas"}),
    pool="paqtana",
    deps=["erp_demand"],
    description="Paqtana historical demand: every day of the DEMAND_CATCHUP_DAYS window that "
    "Paqtana does not hold as the ERP has it now (a missed day, a late drop, a correction) as "
    "`POST /v2/org/{org}/historical_demand` bodies of at most 32 MB (measured), one series never "
    "split unless it alone is too big; only the LAST request carries `auto_calculate=True`. "
    "Paqtana merges by day + item, so a range backfill (one run) is the initial load; a re-run "
    "after a failure resends only the chunks not yet accepted.",
)
def paqtana_historical_demand(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    erp: ErpExportsResource,
    paqtana: PaqtanaResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    first, last = demand_window(context)
    window = range_label(first, last)
    demand = staging.store().read_days("erp_demand", first, last)
    digests = day_digests(demand)
    if is_demand_backfill(context) or cadence.forces(PAQTANA_HISTORICAL_DEMAND):
        days, unchanged = sorted(digests), []  # the initial load, or a re-send on purpose
    else:
        held = accepted_digests(state_db.engine, first, last)
        days = sorted(d for d, (digest, _n) in digests.items() if held.get(d) != digest)
        unchanged = sorted(set(digests) - set(days))
    to_send = demand[demand["date"].dt.date.isin(days)] if len(days) < len(digests) else demand
    with erp.export_store() as exports:  # before the send: an unreachable store sends nothing
        dropped = {d.day for d in complete_drops(exports)}
    missing = [
        d for d in settings.business_calendar().business_days(first, last) if d not in dropped
    ]
    with _client(context, paqtana, sync_mode) as client:
        built = build_historical_demand_chunks(
            to_send,
            erp.locations(),
            paqtana.body_cap_bytes,
            org_workspaces=_org_workspaces(client, sync_mode),
        )
        result = sync_load.send(
            context,
            PAQTANA_HISTORICAL_DEMAND,
            demand_plan(
                built,
                nothing_to_send=f"Paqtana already holds every day of {window} as the ERP has it",
            ),
            DemandSender(client),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            state=DemandDaysWriter(
                {d: digests[d] for d in days}, context.run.run_id, state_db.ledger().now()
            ),
            data_as_of=last,
        )
    sizes = [c.size_bytes for c in built.chunks]
    meta = sync_load.headline(
        result,
        sent=built.values if result.sent else 0,
        refused=len(built.rejects),
        failed=len(result.refused),
        requests_to=sync_load.destination(sync_mode, paqtana.url, context.run.run_id, VENDOR),
    ) | {
        "dagster/row_count": built.values,
        "auto_calculate": result.finishing,
        "window": window,
        "days_sent": dg.MetadataValue.json([d.isoformat() for d in days] if result.sent else []),
        "days_unchanged": len(unchanged),
        "days_without_drop": dg.MetadataValue.json([d.isoformat() for d in missing]),
        "rows_in": len(demand),
        "series": built.series,
        "chunks": len(built.chunks),
        "chunks_sent": result.units_sent,
        "chunks_already_accepted": result.units_already_accepted,
        "bytes_per_request": dg.MetadataValue.json(sizes),
        "largest_request_bytes": max(sizes, default=0),
        "byte_cap": built.cap_bytes,
        **sync_load.traffic(client.stats),
    }
    label = range_label(*partition_days(context))
    return _finish(context, staging, label, result, built.rejects, DEMAND_KEY_FIELD, meta)
