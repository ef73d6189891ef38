"""PXM: the one daily read, kept as a local cache that is the only thing other assets read."""

import dagster as dg

from pipelines.core.cadence.endpoints import PXM_CATALOG_READ
from pipelines.core.outbox import pxm_responder
from pipelines.core.pxm.sync import CatalogReadSender, catalog_read_plan
from pipelines.defs import sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.partitions import daily_asset
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pxm"


@dg.asset(
    **daily_asset("pxm", kinds={"pxm", "sqlite"}),
    pool="pxm",
    description="The daily read of PXM (collections, categories, attributes; paged, OAuth client "
    "credentials) into a local SQLite cache that every consumer reads instead of PXM. The "
    "vendor allows one read a day: the ledger refuses a second. Skipped, not failed, when "
    "PXM_CLIENT_ID/PXM_CLIENT_SECRET are not set. We never write to PXM (no public schema).",
)
def pxm_catalog_cache(
    context: dg.AssetExecutionContext,
    staging: StagingResource,
    pxm: PxmResource,
    cadence: CadenceGuardResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    path = staging.pxm_cache_path()
    if not pxm.configured and not sync_mode.dry_run:
        context.log.info("PXM not configured: no read; enrichment uses the cache if any")
        return dg.MaterializeResult(
            metadata={
                "cadence": "skipped: PXM is not configured "
                "(PXM_CLIENT_ID / PXM_CLIENT_SECRET unset)",
                "cache_file": dg.MetadataValue.path(str(path)),
            }
        )
    run_id = context.run.run_id
    if sync_mode.dry_run:  # the read's answers are canned: its cache goes to the outbox
        path = sync_mode.outbox_folder(run_id, VENDOR) / "catalog.sqlite"
    transport = sync_mode.transport(run_id, VENDOR, pxm_responder)
    with pxm.client(transport) as client:
        result = sync_load.send(
            context,
            PXM_CATALOG_READ,
            catalog_read_plan(),
            CatalogReadSender(client, path),
            cadence=cadence,
            state_db=state_db,
            sync_mode=sync_mode,
        )
    read = result.answers[0].value if result.answers else None
    meta = {
        "cadence": result.cadence,
        "requests_to": sync_load.destination(sync_mode, pxm.url, run_id, VENDOR),
        "cache_file": dg.MetadataValue.path(str(path)),
    }
    if read is not None:
        meta |= {
            "collections": len(read.collections),
            "categories": len(read.categories),
            "attributes": len(read.attributes),
            "pages": dg.MetadataValue.json(read.pages),
            "token_fetches": read.token_fetches,
            "duration_s": round(read.duration_s, 3),
        }
    return dg.MaterializeResult(metadata=meta | sync_load.traffic(client.stats))
