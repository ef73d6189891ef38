"""Pixee: the catalog payload (ERP products enriched from the last good PXM cache), the sync that
sends the day's catalog as a snapshot in batches of 500 (the changed products, every product
Pixee still refuses, the ones queued again, the removals), and the daily read of Pixee with its
reconciliation check."""

import dagster as dg
import pandas as pd

from pipelines.core.cadence.endpoints import PIXEE_DELTA_READ, PIXEE_PRODUCTS_BATCH
from pipelines.core.outbox import pixee_responder
from pipelines.core.pixee.catalog_cache import (
    DeltaCursorWriter,
    DeltaReadSender,
    delta_read_plan,
    delta_since,
    last_read,
    read_cache,
)
from pipelines.core.pixee.changes import plan_upserts
from pipelines.core.pixee.payloads import SENT_COLUMNS, build_products, content_hash
from pipelines.core.pixee.reconcile import Drift, reconcile, requeue_drift
from pipelines.core.pixee.removals import plan_removals
from pipelines.core.pixee.sync import (
    BatchSender,
    SyncedProductsWriter,
    catalog_send,
    still_failing,
    still_failing_rejects,
)
from pipelines.core.pixee.synced_state import Refusal, SyncedProducts
from pipelines.core.pxm.cache import CatalogCacheError, read_catalog_cache
from pipelines.core.pxm.enrichment import enrich_products
from pipelines.core.pxm.last_good import choose_cache
from pipelines.core.staging import StagingStore
from pipelines.defs import sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import daily_asset, partition_days, range_label
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.assets import LAST_GOOD_CATALOG, await_pxm_read
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pixee"
RECONCILIATION_CHECK = "reconciliation"
ENRICHMENT_CHECK = "pxm_enrichment_from_todays_read"
BATCH_ENDPOINT = "pixee POST /products/batch"
FAILING_SHOWN = 25


@dg.asset(
    **daily_asset("pixee", kinds={"pixee", "pandas"}),
    deps=["erp_products", LAST_GOOD_CATALOG],
    check_specs=[
        dg.AssetCheckSpec(
            ENRICHMENT_CHECK,
            asset="pixee_products_payload",
            description="Warns when the payload was not enriched from today's PXM read: "
            "enriched from an older cache (its age named), or not enriched at all (no cache, or "
            "one older than PXM_CACHE_MAX_AGE_DAYS).",
        )
    ],
    description="The products to send to Pixee for a business day: the ERP products export, with "
    "fields the ERP left empty filled from the PXM cache (the ERP wins where both have a value). "
    "PXM is optional: when today's PXM read failed or did not run, the last good cache is used "
    "while younger than PXM_CACHE_MAX_AGE_DAYS, else the payload goes without enrichment.",
)
def pixee_products_payload(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    pxm: PxmResource,
    state_db: StateDatabaseResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    store = staging.store()
    products = store.read_day("erp_products", day)
    pxm_read, waited_s = await_pxm_read(context)
    meta: dict = {"rows_in": len(products)}
    try:
        cache = read_catalog_cache(staging.pxm_cache_path())
    except CatalogCacheError as exc:  # missing, or unreadable: Pixee goes without it
        cache = None
        if staging.pxm_cache_path().exists():
            meta["pxm_cache_unreadable"] = str(exc)
    choice = choose_cache(
        cache.meta if cache else None, state_db.ledger().now(), pxm.cache_age_limit_days
    )
    meta |= {
        "enrichment": choice.why,
        "pxm_read_in_this_run": pxm_read,
        "pxm_read_waited_s": round(waited_s, 1),
    }
    if choice.age_days is not None:
        meta["pxm_cache_age_days"] = round(choice.age_days, 2)
    if choice.use and cache is not None:
        mapping, ean_label = pxm.enrichment_mapping()
        enriched = enrich_products(products, cache.collections, mapping, ean_label=ean_label)
        products = enriched.frame
        meta |= {
            "pxm_matched_products": enriched.matched,
            "fields_filled_from_pxm": dg.MetadataValue.json(enriched.filled),
        }
    elif choice.stale:
        context.log.warning(f"Pixee payload for {day}: {choice.why}")
    store.write_day("pixee_products_payload", day, products)
    unconfigured = not pxm.configured and cache is None  # PXM not in use: nothing to warn of
    return dg.MaterializeResult(
        metadata=meta | {"dagster/row_count": len(products)},
        check_results=[
            dg.AssetCheckResult(
                check_name=ENRICHMENT_CHECK,
                passed=choice.read_today or unconfigured,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "enrichment": choice.why,
                    "pxm_cache_age_days": round(choice.age_days, 2)
                    if choice.age_days is not None
                    else "no cache",
                    "pxm_read_in_this_run": pxm_read,
                },
            )
        ],
    )


def _rows_refused_at_extract(store: StagingStore, label: str) -> int:
    path = store.rejects_path("erp_products", label)
    return len(pd.read_csv(path, usecols=["value"])) if path.exists() else 0


def _failing_table(failing: list[Refusal]) -> dg.MetadataValue:
    rows = ["| ean | failing since | sends refused | Pixee's last reason |", "|---|---|---|---|"]
    for r in failing[:FAILING_SHOWN]:
        reason = r.reason.replace("|", "/").replace("\n", " ")
        rows.append(f"| {r.ean} | {r.first_refused_on} | {r.refusals} | {reason} |")
    if len(failing) > FAILING_SHOWN:
        rows.append(f"| ... | {len(failing) - FAILING_SHOWN} more in the rejects file | | |")
    return dg.MetadataValue.md("\n".join(rows))


@dg.asset(
    **daily_asset("pixee", kinds={"pixee"}),
    pool="pixee",
    deps=["pixee_products_payload"],
    description="Sends the day's catalog to Pixee with `POST /ext/products/batch` (at most 500 a "
    "request, paced under the bulk limit): new and changed products, every product Pixee still "
    "refuses (until it accepts it), products queued again (deleted or edited in Pixee, "
    "corrected by hand), and once each product the ERP no longer exports (PIXEE_REMOVED_STATUS), "
    "behind the removal safeguard (MAX_REMOVED_SHARE). A snapshot: an older drop's is never "
    "sent over a newer one. A product is marked synced only when Pixee accepted it; the still "
    "failing ones are listed with the first day Pixee refused them. Needs ext:products:write.",
)
def pixee_products_sync(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    erp: ErpExportsResource,
    pixee: PixeeResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    first, day = partition_days(context)
    store = staging.store()
    products = build_products(store.read_day("pixee_products_payload", day))
    state = SyncedProducts(state_db.engine)
    held, refused = state.held(), state.refused()
    upserts = plan_upserts(products, held, full_resync=pixee.resend_everything, refused=refused)
    catalog = {p["ean"] for p in products}
    removals = plan_removals(
        catalog,
        held,
        pixee.status_for_removed,
        day=day,
        max_share=pixee.removed_share_limit,
        rows_refused_at_extract=_rows_refused_at_extract(store, range_label(first, day)),
    )
    send = catalog_send(upserts, removals, refused)
    send.plan.superseded = sync_load.superseded_snapshot(erp, day)
    carried = catalog | set(removals.candidates)
    run_id = context.run.run_id
    writer = SyncedProductsWriter(
        run_id,
        state_db.ledger().today(),
        send=send,
        data_as_of=day,
        no_longer_exported=set(refused) - carried,
    )
    where = sync_load.requests_to(context, sync_mode, pixee.url, VENDOR)  # tagged before sending
    with pixee.client(sync_mode.transport(run_id, VENDOR, pixee_responder)) as client:
        result = sync_load.send(
            context,
            PIXEE_PRODUCTS_BATCH,
            send.plan,
            BatchSender(client),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            state=writer,
            data_as_of=day,
        )
    failing = still_failing(state.refused(), carried)
    asset = context.asset_key.to_user_string()
    path = store.write_rejects(
        asset, day.isoformat(), still_failing_rejects(failing, BATCH_ENDPOINT)
    )
    accepted = [ean for a in result.answers for ean in a.value]
    meta = sync_load.headline(
        result,
        sent=len(accepted),
        refused=0,
        failed=len(result.refused),
        requests_to=where,
    ) | {
        "still_failing": len(failing),
        "products_considered": len(products),
        "new": upserts.new,
        "changed": upserts.changed,
        "unchanged": upserts.unchanged,
        "requeued": upserts.requeued,
        "retried": upserts.retried,
        "restored": upserts.restored,
        "resent_by_full_resync": upserts.resent,
        "removed_from_erp": len(removals.candidates),
        "removed_sent": sum(1 for ean in accepted if ean in send.removed),
        "removed_status": removals.status or "keep",
        "to_send": len(upserts.to_send) + len(removals.bodies),
        "created": result.counts.get("created", 0),
        "updated": result.counts.get("updated", 0),
        "batches": result.units,
        **sync_load.send_figures(result),
        **sync_load.traffic(client.stats),
    }
    if removals.held_back:
        meta["removals_held_back"] = removals.held_back
    if failing:  # the path only where there is something to read
        meta["rejects_file"] = dg.MetadataValue.path(str(path))
        meta["still_failing_products"] = _failing_table(failing)
        context.log.warning(f"{len(failing)} product(s) still refused by Pixee; see {path}")
    if result.refused:
        meta["failures"] = sync_load.failures_table(result.refused, "ean")
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    **daily_asset("pixee", kinds={"pixee", "parquet"}),
    pool="pixee",
    deps=["pixee_products_sync"],
    check_specs=[
        dg.AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset="pixee_catalog_cache",
            description="ERP products missing in Pixee (never created, or deleted there), and "
            "fields that differ (edited in the PIM). Products Pixee accepted and no longer holds "
            "as accepted are queued for the next daily send.",
        )
    ],
    description="The daily read of Pixee merged into a local Parquet copy: the delta "
    "(`GET /ext/products/delta?since=<cursor>`, pages of 500; the cursor advances to the "
    "answer's meta.updated_at), then Pixee's count (`GET /ext/products`); when the count shows "
    "deleted products, and at least weekly, the full list replaces the copy. One read a day "
    "(ledger). Reconciles the copy with the day's ERP payload.",
)
def pixee_catalog_cache(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    pixee: PixeeResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    path = staging.pixee_cache_path()
    run_id = context.run.run_id
    since = delta_since(state_db.engine, path)
    _read_at, last_full = last_read(state_db.engine)
    ledger = state_db.ledger()
    # a dry-run's canned read merges nothing into the real copy
    target = (
        sync_mode.outbox_folder(run_id, VENDOR) / "catalog.parquet" if sync_mode.dry_run else path
    )
    where = sync_load.requests_to(context, sync_mode, pixee.url, VENDOR)
    with pixee.client(sync_mode.transport(run_id, VENDOR, pixee_responder)) as client:
        result = sync_load.send(
            context,
            PIXEE_DELTA_READ,
            delta_read_plan(),
            DeltaReadSender(
                client, since, target, today=ledger.today(), last_full=last_full, now=ledger.now
            ),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            state=DeltaCursorWriter(ledger.today()),
        )
    meta: dict = {
        "cadence": result.cadence,
        "requests_to": where,
        "cache_file": dg.MetadataValue.path(str(path)),
    }
    if result.answers:
        read = result.answers[0].value
        meta |= {
            "since": since,
            "cursor": read.cursor,
            "pages": read.delta.pages,
            "products_read": len(read.delta.products),
            "complete": read.delta.complete,
            "pixee_total": read.pixee_total,
            "full_list": read.full_list_why or "not due",
            "deleted_in_pixee": len(read.deleted),
        }
    cache = read_cache(path)
    payload = staging.store().read_day("pixee_products_payload", day)
    drift = reconcile(payload, cache, [c for c in SENT_COLUMNS if c != "ean"])
    check_meta: dict = {
        "missing_in_pixee": len(drift.missing),
        "fields_differing": len(drift.differing),
        "details": dg.MetadataValue.md(drift.markdown()),
    }
    if not sync_mode.dry_run:  # a dry-run changes none of our state
        check_meta |= _queue_drift(state_db, drift, cache, payload)
    return dg.MaterializeResult(
        metadata=meta | {"dagster/row_count": len(cache)} | sync_load.traffic(client.stats),
        check_results=[
            dg.AssetCheckResult(
                check_name=RECONCILIATION_CHECK,
                passed=drift.clean,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=check_meta,
            )
        ],
    )


def _queue_drift(
    state_db: StateDatabaseResource, drift: Drift, cache: pd.DataFrame, payload: pd.DataFrame
) -> dict:
    """Products Pixee no longer holds as it accepted them go out again with the next send."""
    state = SyncedProducts(state_db.engine)
    read_at, _full = last_read(state_db.engine)
    day_hashes = {p["ean"]: content_hash(p) for p in build_products(payload)}
    queue = requeue_drift(drift, cache, state.held(), day_hashes, read_at)
    requeued = state.requeue(queue.missing, "missing in Pixee (deleted there)")
    by_fields: dict[str, list[str]] = {}
    for ean, fields in queue.edited.items():
        by_fields.setdefault(", ".join(fields), []).append(ean)
    for fields, eans in by_fields.items():
        requeued += state.requeue(eans, f"edited in Pixee: {fields}")
    return {
        "requeued_for_next_send": requeued,
        "forgotten_deleted_and_not_exported": state.forget(queue.gone),
    }
