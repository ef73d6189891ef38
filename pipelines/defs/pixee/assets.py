"""Pixee: the catalog payload (ERP products enriched from the PXM cache), the sync that sends only
what changed in batches of 500, and the daily delta read with its reconciliation check."""

import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd

from pipelines.core.atomic_file import atomic_path
from pipelines.core.cadence.endpoints import PIXEE_DELTA_READ, PIXEE_PRODUCTS_BATCH
from pipelines.core.cadence.ledger import Operation
from pipelines.core.http import RETRYABLE_STATUSES, VendorError
from pipelines.core.outbox import pixee_responder
from pipelines.core.pixee.changes import BatchOutcome, apply_batch_result, plan_upserts
from pipelines.core.pixee.client import READ_SCOPE, WRITE_SCOPE
from pipelines.core.pixee.payloads import SENT_COLUMNS, build_products
from pipelines.core.pixee.reconcile import reconcile
from pipelines.core.pixee.synced_state import SyncedProducts
from pipelines.core.pxm.cache import CatalogCacheMissingError, read_catalog_cache
from pipelines.core.pxm.enrichment import enrich_products
from pipelines.core.state_db import get_cursor, set_cursor
from pipelines.defs import load_metadata, settings
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import business_days, partition_days
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.assets import pxm_cache_path
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pixee"
DELTA_CURSOR = "pixee products delta since"
DELTA_EPOCH = "1970-01-01T00:00:00Z"
RECONCILIATION_CHECK = "reconciliation"
# Error statuses of a batch request that say nothing about its products.
NOT_REFUSALS = RETRYABLE_STATUSES | {401, 403}


@dg.asset(
    group_name="pixee",
    kinds={"pixee", "pandas"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    deps=["erp_products", "pxm_catalog_cache"],
    description="The products to send to Pixee for a business day: the ERP products export, with "
    "fields the ERP left empty filled from the PXM cache (the ERP wins where both have a value).",
)
def pixee_products_payload(
    context: dg.AssetExecutionContext, erp: ErpExportsResource, pxm: PxmResource
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    products = erp.staging().read_day("erp_products", day)
    meta: dict = {"rows_in": len(products)}
    try:
        cache = read_catalog_cache(pxm_cache_path(erp))
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
    erp.staging().write_day("pixee_products_payload", day, products)
    return dg.MaterializeResult(metadata=meta | {"dagster/row_count": len(products)})


@dg.asset(
    group_name="pixee",
    kinds={"pixee"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    pool="pixee",
    deps=["pixee_products_payload"],
    description="Upserts new or changed products into Pixee with `POST /ext/products/batch` "
    "(at most 500 a request, paced under the bulk limit). A product is marked synced only when "
    "Pixee accepted it; products Pixee refused go to the rejects file with its message and are "
    "sent again next day. An unchanged catalog sends nothing. Needs scope ext:products:write.",
)
def pixee_products_sync(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    pixee: PixeeResource,
    cadence: CadenceGuardResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    frame = erp.staging().read_day("pixee_products_payload", day)
    products = build_products(frame)
    synced = SyncedProducts(cadence.ledger.engine)
    plan = plan_upserts(
        products, {} if sync_mode.dry_run else synced.hashes(), full_resync=pixee.full_resync
    )
    meta: dict = {
        "products_considered": len(products),
        "new": plan.new,
        "changed": plan.changed,
        "unchanged": plan.unchanged,
        "resent_by_full_resync": plan.resent,
        "to_send": len(plan.to_send),
        "mode": sync_mode.mode,
    }
    failures: dict[str, str] = {}
    decision, note = None, None
    with pixee.client(sync_mode.transport(context.run.run_id, VENDOR, pixee_responder)) as client:
        if sync_mode.dry_run:
            for batch in plan.batches():
                client.batch_upsert(batch)
            note = "dry-run: written to the outbox, ledger and synced state untouched"
            meta["outbox"] = dg.MetadataValue.path(
                str(sync_mode.outbox_folder(context.run.run_id, VENDOR))
            )
        elif not plan.to_send:
            note = cadence.record_noop(
                context,
                PIXEE_PRODUCTS_BATCH,
                Operation.WRITE,
                "no new or changed product since the last accepted sync",
            )
        else:
            plan_hash = hashlib.sha256("".join(sorted(plan.hashes.values())).encode()).hexdigest()
            decision = cadence.claim(
                context, PIXEE_PRODUCTS_BATCH, Operation.WRITE, payload_hash=plan_hash
            )
            if decision.allowed:
                failures, counts = _send_batches(context, client, cadence, decision, plan, synced)
                meta |= counts
        meta |= load_metadata.traffic(client.stats)
    asset, staging = context.asset_key.to_user_string(), erp.staging()
    path = staging.rejects_path(asset, day.isoformat())
    if decision is None or decision.allowed or not path.exists():  # a skipped re-run keeps them
        rejects = load_metadata.vendor_rejects(failures, "ean", "pixee POST /products/batch")
        path = staging.write_rejects(asset, day.isoformat(), rejects)
    meta |= {"failed": len(failures), "rejects_file": dg.MetadataValue.path(str(path))}
    if failures:
        meta["failures"] = load_metadata.failures_table(failures)
        context.log.warning(f"Pixee refused {len(failures)} product(s); see {path}")
    meta |= load_metadata.cadence(decision, note)
    return dg.MaterializeResult(metadata=meta)


def _send_batches(context, client, cadence, decision, plan, synced):  # noqa: ANN001, ANN202
    """Send every batch, marking accepted products synced after each one, so a crash or a
    failed request loses nothing and the re-run sends only what Pixee has not accepted."""
    failures: dict[str, str] = {}
    created = updated = 0
    batches = plan.batches()
    with cadence.attempt(decision, client.stats):
        client.require_scopes(WRITE_SCOPE)  # before any write, naming the missing scope
        for index, batch in enumerate(batches):
            try:
                outcome = apply_batch_result(batch, client.batch_upsert(batch))
            except VendorError as exc:
                # Only a plain 4xx is about these products; anything else (no answer, 5xx, a 429
                # even past its wait, 401/403, a 2xx we cannot read) fails the run honestly.
                if exc.status is None or not 400 <= exc.status < 500 or exc.status in NOT_REFUSALS:
                    raise
                outcome = BatchOutcome.request_failed(batch, str(exc))
            synced.mark(outcome.accepted, context.run.run_id)
            failures |= outcome.failed
            created, updated = created + outcome.created, updated + outcome.updated
            cadence.ledger.record_chunk(
                decision.sync_id,
                index,
                hashlib.sha256(str(sorted(outcome.accepted)).encode()).hexdigest(),
            )
            context.log.info(
                f"Pixee batch {index + 1}/{len(batches)}: {len(outcome.accepted)} "
                f"accepted, {len(outcome.failed)} refused"
            )
    return failures, {"created": created, "updated": updated, "batches": len(batches)}


def pixee_cache_path(erp: ErpExportsResource) -> Path:
    return Path(erp.data_dir) / "pixee" / "catalog.parquet"


@dg.asset(
    group_name="pixee",
    kinds={"pixee", "parquet"},
    owners=settings.OWNERS,
    partitions_def=business_days,
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
    erp: ErpExportsResource,
    pixee: PixeeResource,
    cadence: CadenceGuardResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    _first, day = partition_days(context)
    path = pixee_cache_path(erp)
    meta: dict = {"cache_file": dg.MetadataValue.path(str(path))}
    if sync_mode.dry_run:
        meta["cadence"] = "skipped: dry-run makes no reads"
    else:
        decision = cadence.claim(context, PIXEE_DELTA_READ, Operation.READ)
        meta |= load_metadata.cadence(decision)
        if decision.allowed:
            engine = cadence.ledger.engine
            since = get_cursor(engine, DELTA_CURSOR) or DELTA_EPOCH
            with pixee.client() as client, cadence.attempt(decision, client.stats):
                client.require_scopes(READ_SCOPE)
                read = client.delta(since)
                _merge_into_cache(path, read.products)
                set_cursor(engine, DELTA_CURSOR, read.cursor)
                meta |= {
                    "since": since,
                    "cursor": read.cursor,
                    "pages": read.pages,
                    "products_read": len(read.products),
                    "complete": read.complete,
                    **load_metadata.traffic(client.stats),
                }
    cache = pd.read_parquet(path) if path.exists() else pd.DataFrame({"ean": []})
    erp_products = erp.staging().read_day("pixee_products_payload", day)
    drift = reconcile(erp_products, cache, [c for c in SENT_COLUMNS if c != "ean"])
    return dg.MaterializeResult(
        metadata=meta | {"dagster/row_count": len(cache)},
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


def _merge_into_cache(path: Path, products: list[dict]) -> None:
    fresh = pd.DataFrame(products)
    if path.exists() and not fresh.empty:
        fresh = pd.concat([pd.read_parquet(path), fresh], ignore_index=True)
    elif path.exists():
        return
    if fresh.empty:
        fresh = pd.DataFrame({"ean": pd.Series(dtype=str)})
    fresh = fresh.drop_duplicates("ean", keep="last").astype({"ean": str})
    with atomic_path(path) as tmp:
        fresh.astype(object).where(fresh.notna(), None).to_parquet(tmp, index=False)
