"""PXM: the one daily read, kept as a local cache that is the only thing other assets read.

The Pixee payload is NOT downstream of the read step: Dagster skips every step downstream of a
failed one, and PXM only fills gaps, so a PXM outage must not stop the Pixee sync. The graph
keeps the lineage through `pxm_last_good_catalog` (the cache as the last good read left it, an
observed asset no step runs), and the payload waits for the same run's read step to end
(`await_pxm_read`), so a read that succeeds today is used today.
"""

import time

import dagster as dg

from pipelines.core.cadence.endpoints import PXM_CATALOG_READ
from pipelines.core.outbox import pxm_responder
from pipelines.core.pxm.sync import CatalogReadSender, catalog_read_plan
from pipelines.defs import settings, sync_load
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.partitions import daily_asset
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pxm"
READ_STEP = "pxm_catalog_cache"
LAST_GOOD_CATALOG = "pxm_last_good_catalog"
# How long the Pixee payload waits for this run's PXM read to end (the read's own waits and
# retries end well before); past it, the payload enriches from the last good cache, saying so.
READ_WAIT_S = 1800.0
# Steps that start at once: the read first, so the payload rarely waits and an in-process run
# (one step at a time) has always finished it before the payload starts.
FIRST = {"dagster/priority": "10"}

pxm_last_good_catalog = dg.AssetSpec(
    LAST_GOOD_CATALOG,
    deps=[READ_STEP],
    group_name="pxm",
    owners=settings.OWNERS,
    kinds={"pxm", "sqlite"},
    description="The PXM catalog the Pixee payload enriches from: the local cache as the last "
    "successful daily read left it (a failed read leaves it as it was). No step runs it, so a "
    "failed PXM read never skips the Pixee sync; enrichment uses it while it is younger than "
    "PXM_CACHE_MAX_AGE_DAYS, with a warning naming its age when it is not today's.",
)


@dg.asset(
    **daily_asset("pxm", kinds={"pxm", "sqlite"}),
    pool="pxm",
    op_tags=FIRST,
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
    where = sync_load.requests_to(context, sync_mode, pxm.url, VENDOR)  # tagged before reading
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
    if read is not None and not sync_mode.dry_run:
        context.log_event(
            dg.AssetMaterialization(
                LAST_GOOD_CATALOG,
                description=f"PXM catalog read at {read.read_at.isoformat()}",
                metadata={"read_at": read.read_at.isoformat(), "cache_file": str(path)},
            )
        )
    meta = {
        "cadence": result.cadence,
        "requests_to": where,
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


def await_pxm_read(
    context: dg.AssetExecutionContext, *, wait_s: float = READ_WAIT_S, poll_s: float = 1.0
) -> tuple[str, float]:
    """Wait for this run's PXM read step to end, whichever way: the payload is not downstream of
    it in the graph (see the module docstring). Returns how it ended (`success`, `failure`,
    `skipped`, `not in this run`, or still running past the wait) and the seconds waited."""
    instance, run = context.instance, context.run
    snapshot_id = run.execution_plan_snapshot_id
    plan = instance.get_execution_plan_snapshot(snapshot_id) if snapshot_id else None
    if plan is None or READ_STEP not in plan.step_keys_to_execute:
        return "not in this run", 0.0
    started = time.monotonic()
    while True:
        [stats] = instance.get_run_step_stats(run.run_id, step_keys=[READ_STEP]) or [None]
        waited = time.monotonic() - started
        if stats is not None and stats.end_time is not None:
            return str(stats.status.value).lower(), waited
        if waited >= wait_s:
            return f"still running after {wait_s:.0f}s", waited
        time.sleep(poll_s)
