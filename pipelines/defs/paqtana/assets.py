"""Paqtana: the master inventory (one PUT a day that replaces the org's inventory) and historical
demand (size-capped POSTs that Paqtana merges), loaded by ONE step in that order, so the
recalculation (`auto_calculate`, on the day's last write) always follows the inventory, and an
inventory PUT that is blocked or fails never stops the day's demand send. Each load builds its
bodies and hands them to the sync engine (`pipelines/core/sync/engine.py`)."""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from pipelines.core.cadence.endpoints import PAQTANA_HISTORICAL_DEMAND, PAQTANA_MASTER_INVENTORY
from pipelines.core.erp.drops import complete_drops
from pipelines.core.outbox import paqtana_responder
from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.core.paqtana.demand import build_historical_demand_chunks
from pipelines.core.paqtana.demand_days import DemandDaysWriter, accepted_digests, day_digests
from pipelines.core.paqtana.inventory import build_master_inventory
from pipelines.core.paqtana.inventory_snapshot import (
    AcceptedInventoryWriter,
    accepted_rows,
    body_rows,
    carry_forward,
    diff_snapshot,
    inventory_safeguards,
)
from pipelines.core.paqtana.sync import (
    DEMAND_KEY_FIELD,
    INVENTORY_KEY_FIELD,
    DemandSender,
    InventorySender,
    demand_plan,
    inventory_plan,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces
from pipelines.core.rejects import LINE_DTYPE, concat_rejects, item_rejects, vendor_refusal
from pipelines.core.staging import StagingMissingError
from pipelines.core.sync.engine import SendOutcome, SendResult
from pipelines.defs import settings, sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.figures import megabytes
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.partitions import (
    DAILY_BACKFILL_POLICY,
    business_days,
    demand_window,
    is_demand_backfill,
    partition_days,
    range_label,
)
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "paqtana"
INVENTORY = dg.AssetKey("paqtana_master_inventory")
DEMAND = dg.AssetKey("paqtana_historical_demand")
SAFEGUARDS_CHECK = "safeguards"


@dataclass
class _Load:
    """What both loads of one run share."""

    context: dg.AssetExecutionContext
    staging: StagingResource
    erp: ErpExportsResource
    paqtana: PaqtanaResource
    cadence: CadenceGuardResource
    state_db: StateDatabaseResource
    sync_mode: SyncModeResource

    def client(self) -> PaqtanaClient:
        """A client of its own per load, so each load's traffic figures are its own."""
        self.requests_to()  # the run's tag says where, before any request goes
        transport = self.sync_mode.transport(self.context.run.run_id, VENDOR, paqtana_responder)
        return self.paqtana.client(transport)

    def org_workspaces(self, client: PaqtanaClient) -> OrgWorkspaces | None:
        """Pre-flight: the workspaces the org really has. Skipped in dry-run (no vendor)."""
        if self.sync_mode.dry_run:
            return None
        return OrgWorkspaces.from_listing(client.org, client.list_workspaces())

    def requests_to(self) -> str:
        return sync_load.requests_to(self.context, self.sync_mode, self.paqtana.url, VENDOR)

    def finish(
        self,
        asset: dg.AssetKey,
        label: str,
        result: SendResult,
        kept_out: pd.DataFrame,
        key_field: str,
        meta: dict,
    ) -> None:
        """Every row kept out, before sending or by Paqtana, goes to the rejects file; a request
        Paqtana refused fails the step (after the other units were sent) with its reason."""
        refused_by_vendor = item_rejects(
            f"{VENDOR} {asset.to_user_string()}",
            key_field,
            ((item, vendor_refusal("Paqtana", why)) for item, why in result.refused.items()),
        )
        rejects = concat_rejects([kept_out, refused_by_vendor], sort=False)
        path = self.staging.store().write_rejects(asset.to_user_string(), label, rejects)
        if len(rejects):  # the path only where there is something to read
            meta["rejects_file"] = dg.MetadataValue.path(str(path))
        if result.outcome is SendOutcome.REFUSED:
            first = next(iter(result.refused.values()), "")
            raise dg.Failure(
                description=f"Paqtana refused {result.units_refused} of {result.units} "
                f"request(s) ({len(result.refused)} row(s), kept in {path}): {first}",
                metadata=meta,
            )


def _extract_rejects(staging: StagingResource, day: str) -> pd.DataFrame:
    path = staging.store().rejects_path("erp_items", day)
    if not path.exists():
        return pd.DataFrame(columns=["file", "line", "field", "value", "reason"])
    return pd.read_csv(path, dtype={"file": str, "field": str, "value": str}).astype(
        {"line": LINE_DTYPE}
    )


def _inventory(load: _Load) -> tuple[SendResult, dg.MaterializeResult, dg.AssetCheckResult]:
    with load.client() as client:
        return _send_inventory(load, client)


def _send_inventory(
    load: _Load, client: PaqtanaClient
) -> tuple[SendResult, dg.MaterializeResult, dg.AssetCheckResult]:
    _first, day = partition_days(load.context)
    store = load.staging.store()
    items = store.read_day("erp_items", day)
    try:
        refused = store.read_day("erp_items_refused", day)
    except StagingMissingError:  # staged by an older release
        refused = items.iloc[0:0]
    held = accepted_rows(load.state_db.engine)
    carried = carry_forward(refused, _extract_rejects(load.staging, day.isoformat()), held)
    # a refused row of an item that also has a clean row today is not carried: the clean wins
    clean = set(zip(items["location"].astype(str), items["code"].astype(str), strict=True))
    keys = zip(carried.items["location"], carried.items["code"], strict=True)
    kept = carried.items[[(str(loc), str(code)) not in clean for loc, code in keys]]
    inventory = build_master_inventory(
        pd.concat([items, kept], ignore_index=True) if len(kept) else items,
        load.erp.locations(),
        org_workspaces=load.org_workspaces(client),
        cap_bytes=load.paqtana.body_cap_bytes,
    )
    sent = body_rows(inventory.body)
    diff = diff_snapshot(sent, held)
    rows_in = len(items) + len(refused)
    not_sent = len(refused) - len(kept) + len(inventory.rejects)
    plan = inventory_plan(inventory)
    plan.superseded = sync_load.superseded_snapshot(load.erp, day)
    plan.safeguards = inventory_safeguards(
        diff,
        refused=not_sent,
        rows_in=rows_in,
        max_removed_share=settings.MAX_REMOVED_SHARE,
        max_refused_share=load.erp.reject_share_limit,
    )
    result = sync_load.send(
        load.context,
        PAQTANA_MASTER_INVENTORY,
        plan,
        InventorySender(client),
        cadence=load.cadence,
        state_db=load.state_db,
        sync_mode=load.sync_mode,
        state=AcceptedInventoryWriter(sent),
        data_as_of=day,
    )
    meta = sync_load.headline(
        result,
        sent=inventory.rows if result.sent else 0,
        refused=not_sent,
        failed=len(result.refused),
        requests_to=load.requests_to(),
    ) | {
        "rows_carried_forward": len(kept),
        "items_added": len(diff.added),
        "items_removed": len(diff.removed),
        "items_changed": len(diff.changed),
        "removed_sample": dg.MetadataValue.json(diff.removed_sample()),
        "by_workspace": dg.MetadataValue.json(diff.by_workspace()),
        "dagster/row_count": inventory.rows,
        "rows_in": rows_in,
        "rows_rejected": not_sent,
        "body_bytes": megabytes(len(inventory.body)),
        "payload_sha256": inventory.sha256,
        **sync_load.send_figures(result),
        **sync_load.traffic(client.stats),
    }
    check = dg.AssetCheckResult(
        asset_key=INVENTORY,
        check_name=SAFEGUARDS_CHECK,
        passed=all(s.passed for s in plan.safeguards),
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(f"{s.name}: {s.reason}" for s in plan.safeguards if not s.passed)
        or "every safeguard passed",
        metadata={s.name: s.reason for s in plan.safeguards},
    )
    kept_out = concat_rejects([inventory.rejects, carried.rejects], sort=False)
    load.finish(INVENTORY, day.isoformat(), result, kept_out, INVENTORY_KEY_FIELD, meta)
    return result, dg.MaterializeResult(asset_key=INVENTORY, metadata=meta), check


def _demand(load: _Load, *, recalculate: bool) -> dg.MaterializeResult:
    with load.client() as client:
        return _send_demand(load, client, recalculate=recalculate)


def _send_demand(load: _Load, client: PaqtanaClient, *, recalculate: bool) -> dg.MaterializeResult:
    context = load.context
    first, last = demand_window(context)
    window = range_label(first, last)
    demand = load.staging.store().read_days("erp_demand", first, last)
    rows_in = len(demand)
    digests = day_digests(demand)
    if is_demand_backfill(context) or load.cadence.forces(PAQTANA_HISTORICAL_DEMAND):
        days, unchanged = sorted(digests), []  # the initial load, or a re-send on purpose
    else:
        held = accepted_digests(load.state_db.engine, first, last)
        days = sorted(d for d, (digest, _n) in digests.items() if held.get(d) != digest)
        unchanged = sorted(set(digests) - set(days))
    to_send = demand[demand["date"].dt.date.isin(days)] if len(days) < len(digests) else demand
    # The builder lets the frame go once it is encoded, if it holds the only reference: hand
    # it over (a year of 20,000 series: 140 MB less at the step's peak).
    handed_over = [to_send]
    del demand, to_send
    with load.erp.export_store() as exports:  # before the send: an unreachable store sends nothing
        dropped = {d.day for d in complete_drops(exports)}
    missing = [
        d for d in settings.business_calendar().business_days(first, last) if d not in dropped
    ]
    built = build_historical_demand_chunks(
        handed_over.pop(),
        load.erp.locations(),
        load.paqtana.body_cap_bytes,
        org_workspaces=load.org_workspaces(client),
    )
    result = sync_load.send(
        context,
        PAQTANA_HISTORICAL_DEMAND,
        demand_plan(
            built,
            f"Paqtana already holds every day of {window} as the ERP has it",
            recalculate=recalculate,
        ),
        DemandSender(client),
        cadence=load.cadence,
        state_db=load.state_db,
        sync_mode=load.sync_mode,
        state=DemandDaysWriter(
            {d: digests[d] for d in days}, context.run.run_id, load.state_db.ledger().now()
        ),
        data_as_of=last,
    )
    sizes = [c.size_bytes for c in built.chunks]
    meta = sync_load.headline(
        result,
        sent=built.values if result.sent else 0,
        refused=len(built.rejects),
        failed=len(result.refused),
        requests_to=load.requests_to(),
    ) | {
        "dagster/row_count": built.values,
        "auto_calculate": result.finishing
        if result.sent
        else "none requested: nothing sent to Paqtana by this run",
        "window": window,
        "days_sent": dg.MetadataValue.json([d.isoformat() for d in days] if result.sent else []),
        "days_unchanged": len(unchanged),
        "days_without_drop": dg.MetadataValue.json([d.isoformat() for d in missing]),
        "rows_in": rows_in,
        "rows_rejected": len(built.rejects),
        "series": built.series,
        "chunks": len(built.chunks),
        "chunks_sent": result.units_sent,
        "chunks_already_accepted": result.units_already_accepted,
        "bytes_per_request": ", ".join(megabytes(n) for n in sizes) or "none",
        "largest_request_bytes": max(sizes, default=0),
        "byte_cap": built.cap_bytes,
        **sync_load.traffic(client.stats),
    }
    label = range_label(*partition_days(context))
    load.finish(DEMAND, label, result, built.rejects, DEMAND_KEY_FIELD, meta)
    return dg.MaterializeResult(asset_key=DEMAND, metadata=meta)


@dg.multi_asset(
    name="paqtana_sync",
    specs=[
        dg.AssetSpec(
            INVENTORY,
            deps=["erp_items"],
            group_name="paqtana",
            kinds={"paqtana", "pandas"},
            owners=settings.OWNERS,
            description="Paqtana master inventory: ONE `PUT /v2/org/{org}/master_inventory` a "
            "day with every item x location of the newest drop (a full snapshot: the vendor "
            "replaces the org's whole inventory, so it is never split). Compared first with "
            "what Paqtana holds: the `safeguards` check stops a PUT that would remove too much "
            "(MAX_REMOVED_SHARE), empty a workspace, or carry too many refused rows; a row "
            "refused for a data fault keeps its item, the faulty field carried forward.",
        ),
        dg.AssetSpec(
            DEMAND,
            deps=["erp_demand"],
            group_name="paqtana",
            kinds={"paqtana", "pandas"},
            owners=settings.OWNERS,
            description="Paqtana historical demand: every day of the DEMAND_CATCHUP_DAYS window "
            "that Paqtana does not hold as the ERP has it now (a missed day, a late drop, a "
            "correction) as `POST /v2/org/{org}/historical_demand` bodies of at most 32 MB; the "
            "LAST request carries `auto_calculate=True`, after the inventory PUT. A range "
            "backfill (one run) is the initial load.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            SAFEGUARDS_CHECK,
            asset=INVENTORY,
            description="The PUT would not remove more than MAX_REMOVED_SHARE of what Paqtana "
            "holds, empty a workspace, or leave out more than MAX_REJECT_SHARE of the rows; "
            "when it would, nothing is sent until a person forces it with a reason.",
        )
    ],
    partitions_def=business_days,
    backfill_policy=DAILY_BACKFILL_POLICY,
    pool="paqtana",
    can_subset=True,
)
def paqtana_sync(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    erp: ErpExportsResource,
    paqtana: PaqtanaResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    selected = context.selected_asset_keys
    failures: list[Exception] = []
    inventory_sent = False
    load = _Load(context, staging, erp, paqtana, cadence, state_db, sync_mode)
    if INVENTORY in selected:
        try:
            result, materialization, check = _inventory(load)
            inventory_sent = result.sent
            yield materialization
            yield check
        except Exception as exc:  # the demand send goes on; the step fails after it
            context.log.error(f"{INVENTORY.to_user_string()} not loaded: {exc}")
            failures.append(exc)
    if DEMAND in selected:
        try:
            yield _demand(load, recalculate=inventory_sent)
        except Exception as exc:
            failures.append(exc)
    if len({str(e) for e in failures}) == 1:  # one failure, or both loads' alike (a bad token)
        raise failures[0]
    if failures:
        raise dg.Failure(
            description="both Paqtana loads failed: "
            + "; ".join(f"({n}) {type(e).__name__}: {e}" for n, e in enumerate(failures, 1))
        )
