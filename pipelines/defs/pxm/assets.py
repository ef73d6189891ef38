"""PXM: the one daily read, kept as a local cache that is the only thing other assets read."""

from pathlib import Path

import dagster as dg

from pipelines.core.cadence.endpoints import PXM_CATALOG_READ
from pipelines.core.cadence.ledger import Operation
from pipelines.core.pxm.cache import write_catalog_cache
from pipelines.defs import load_metadata, settings
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import business_days
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.sync_mode import SyncModeResource


def pxm_cache_path(erp: ErpExportsResource) -> Path:
    return Path(erp.data_dir) / "pxm" / "catalog.sqlite"


@dg.asset(
    group_name="pxm",
    kinds={"pxm", "sqlite"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    pool="pxm",
    description="The daily read of PXM (collections, categories, attributes; paged, OAuth client "
    "credentials) into a local SQLite cache that every consumer reads instead of PXM. The "
    "vendor allows one read a day: the ledger refuses a second. Skipped, not failed, when "
    "PXM_CLIENT_ID/PXM_CLIENT_SECRET are not set. We never write to PXM (no public schema).",
)
def pxm_catalog_cache(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    pxm: PxmResource,
    cadence: CadenceGuardResource,
    sync_mode: SyncModeResource,
) -> dg.MaterializeResult:
    path = pxm_cache_path(erp)
    meta: dict = {"cache_file": dg.MetadataValue.path(str(path))}
    if not pxm.configured:
        context.log.info("PXM not configured: no read; enrichment uses the cache if any")
        return dg.MaterializeResult(
            metadata=meta
            | {
                "cadence": "skipped: PXM is not configured "
                "(PXM_CLIENT_ID / PXM_CLIENT_SECRET unset)"
            }
        )
    if sync_mode.dry_run:
        return dg.MaterializeResult(metadata=meta | {"cadence": "skipped: dry-run makes no reads"})
    decision = cadence.claim(context, PXM_CATALOG_READ, Operation.READ)
    if not decision.allowed:
        return dg.MaterializeResult(metadata=meta | load_metadata.cadence(decision))
    with pxm.client() as client:
        with cadence.attempt(decision, client.stats):
            read = client.read_catalog()
            write_catalog_cache(read, path)
        meta |= {
            "collections": len(read.collections),
            "categories": len(read.categories),
            "attributes": len(read.attributes),
            "pages": dg.MetadataValue.json(read.pages),
            "token_fetches": read.token_fetches,
            "duration_s": round(read.duration_s, 3),
            **load_metadata.traffic(client.stats),
            **load_metadata.cadence(decision),
        }
    return dg.MaterializeResult(metadata=meta)
