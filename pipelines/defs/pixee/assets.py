"""Pixee: the catalog payload (ERP products enriched from the PXM cache), the sync that sends only
what changed in batches of 500, and the daily delta read with its reconciliation check."""

import dagster as dg

from pipelines.core.cadence.endpoints import PIXEE_DELTA_READ, PIXEE_PRODUCTS_BATCH
from pipelines.core.outbox import pixee_responder
from pipelines.core.pixee.catalog_cache import (
    DeltaCursorWriter,
    DeltaReadSender,
    delta_read_plan,
    delta_since,
    read_cache,
)
from pipelines.core.pixee.changes import plan_upserts
from pipelines.core.pixee.payloads import SENT_COLUMNS, build_products
from pipelines.core.pixee.reconcile import reconcile
from pipelines.core.pixee.sync import BatchSender, SyncedProductsWriter, batches_plan
from pipelines.core.pixee.synced_state import SyncedProducts
from pipelines.core.pxm.cache import CatalogCacheMissingError, read_catalog_cache
from pipelines.core.pxm.enrichment import enrich_products
from pipelines.core.rejects import item_rejects, vendor_refusal
from pipelines.defs import sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.partitions import daily_asset, partition_days
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pixee"
RECONCILIATION_CHECK = "reconciliation"
BATCH_ENDPOINT = "pixee POST /products/batch"


@dg.asset(
    **daily_asset("pixee", kinds={"pixee", "pandas"}),
    deps=["erp_products", "pxm_catalog_cache"],
    description="The products to send to Pixee for a business day: the ERP products export, with "
    "fields the ERP left empty filled from the PXM cache (the ERP wins where both have a value).",
)
def pixee_products_payload(
    context: dg.AssetExecutionContext, staging: StagingResource, pxm: PxmResource
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    store = staging.store()
    products = store.read_day("erp_products", day)
    meta: dict = {"rows_in": len(products)}
    try:
        cache = read_catalog_cache(staging.pxm_cache_path())
    except CatalogCacheMissingError:
        meta["enrichment"] = "none: no PXM cache yet"
    else:
        mapping, ean_label = pxm.enrichment_mapping()
        enriched = enrich_products(products, cache.collections, mapping, ean_label=ean_label)
        products = enriched.frame
        meta |= {
            "enrichment": f"PXM cache read at {cache.meta.read_at}",
            "pxm_matched_products": enriched.matched,
            "fields_filled_from_pxm": dg.MetadataValue.json(enriched.filled),
        }
    store.write_day("pixee_products_payload", day, products)
    return dg.MaterializeResult(metadata=meta | {"dagster/row_count": len(products)})


@dg.asset(
    **daily_asset("pixee", kinds={"pixee"}),
    pool="pixee",
    deps=["pixee_products_payload"],
    description="Upserts new or changed products into Pixee with `POST /ext/products/batch` "
    "(at most 500 a request, paced under the bulk limit). A product is marked synced only when "
    "Pixee accepted it; products Pixee refused go to the rejects file with its message and are "
    "sent again next day. An unchanged catalog sends nothing. Needs scope ext:products:write.",
)
def pixee_products_sync(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    pixee: PixeeResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    store = staging.store()
    products = build_products(store.read_day("pixee_products_payload", day))
    synced = SyncedProducts(state_db.engine)
    plan = plan_upserts(products, synced.hashes(), full_resync=pixee.resend_everything)
    run_id = context.run.run_id
    with pixee.client(sync_mode.transport(run_id, VENDOR, pixee_responder)) as client:
        result = sync_load.send(
            context,
            PIXEE_PRODUCTS_BATCH,
            batches_plan(plan),
            BatchSender(client),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            state=SyncedProductsWriter(run_id),
            data_as_of=day,
        )
    failures = result.refused
    asset = context.asset_key.to_user_string()
    path = store.rejects_path(asset, day.isoformat())
    if result.sent or not path.exists():  # a skipped re-run keeps the last send's rejects
        refusals = ((ean, vendor_refusal("Pixee", why)) for ean, why in failures.items())
        path = store.write_rejects(
            asset, day.isoformat(), item_rejects(BATCH_ENDPOINT, "ean", refusals)
        )
    accepted = sum(len(a.value) for a in result.answers)
    meta = sync_load.headline(
        result,
        sent=accepted,
        refused=0,
        failed=len(failures),
        requests_to=sync_load.destination(sync_mode, pixee.url, run_id, VENDOR),
    ) | {
        "products_considered": len(products),
        "new": plan.new,
        "changed": plan.changed,
        "unchanged": plan.unchanged,
        "resent_by_full_resync": plan.resent,
        "to_send": len(plan.to_send),
        "created": result.counts.get("created", 0),
        "updated": result.counts.get("updated", 0),
        "batches": result.units,
        "rejects_file": dg.MetadataValue.path(str(path)),
        **sync_load.send_figures(result),
        **sync_load.traffic(client.stats),
    }
    if failures:
        meta["failures"] = sync_load.failures_table(failures, "ean")
        context.log.warning(f"Pixee refused {len(failures)} product(s); see {path}")
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    **daily_asset("pixee", kinds={"pixee", "parquet"}),
    pool="pixee",
    deps=["pixee_products_sync"],
    check_specs=[
        dg.AssetCheckSpec(
            RECONCILIATION_CHECK,
            asset="pixee_catalog_cache",
            description="ERP products missing in Pixee, and fields that "
            "differ (edited in the PIM).",
        )
    ],
    description="The daily delta read of Pixee (`GET /ext/products/delta?since=<cursor>`, pages "
    "of 500) merged into a local Parquet cache; the cursor advances to the answer's "
    "meta.updated_at. One read a day (ledger). Reconciles the cache with the day's ERP payload.",
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
    since = delta_since(state_db.engine)
    with pixee.client(sync_mode.transport(run_id, VENDOR, pixee_responder)) as client:
        result = sync_load.send(
            context,
            PIXEE_DELTA_READ,
            delta_read_plan(),
            # a dry-run's canned read merges nothing into the real cache
            DeltaReadSender(
                client, since, sync_mode.outbox_folder(run_id, VENDOR) / "catalog.parquet"
            )
            if sync_mode.dry_run
            else DeltaReadSender(client, since, path),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
            state=DeltaCursorWriter(),
        )
    meta: dict = {
        "cadence": result.cadence,
        "requests_to": sync_load.destination(sync_mode, pixee.url, run_id, VENDOR),
        "cache_file": dg.MetadataValue.path(str(path)),
    }
    if result.answers:
        read = result.answers[0].value
        meta |= {
            "since": since,
            "cursor": read.cursor,
            "pages": read.pages,
            "products_read": len(read.products),
            "complete": read.complete,
        }
    cache = read_cache(path)
    erp_products = staging.store().read_day("pixee_products_payload", day)
    drift = reconcile(erp_products, cache, [c for c in SENT_COLUMNS if c != "ean"])
    return dg.MaterializeResult(
        metadata=meta | {"dagster/row_count": len(cache)} | sync_load.traffic(client.stats),
        check_results=[
            dg.AssetCheckResult(
                check_name=RECONCILIATION_CHECK,
                passed=drift.clean,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "missing_in_pixee": len(drift.missing),
                    "fields_differing": len(drift.differing),
                    "details": dg.MetadataValue.md(drift.markdown()),
                },
            )
        ],
    )
