"""Checks on what the Pixee sync reported: the share of the day's products Pixee refused stays
under MAX_REJECT_SHARE. (Reconciliation drift is yielded by `pixee_catalog_cache` itself;
freshness lives with the automation.)

Refused products are sent again the next day; a high share means something systematic (a field
Pixee stopped accepting, a bad mapping) that a person must look at. The share is over the day's
whole catalog, not over what was sent: a re-run that resends only yesterday's one refused
product would otherwise read as 100% refused.
"""

import dagster as dg

from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.load_checks import materialization_to_check, reject_share_result

PRODUCTS_SYNC = dg.AssetKey("pixee_products_sync")
REJECT_SHARE_CHECK = "rejects_share_under_threshold"


@dg.asset_check(
    asset=PRODUCTS_SYNC,
    name=REJECT_SHARE_CHECK,
    description="Rejects share under threshold: products Pixee refused (failed) over the day's "
    "products (products_considered) in the materialization is at most MAX_REJECT_SHARE. The "
    "rejects file holds each refused EAN with Pixee's message.",
)
def products_sync_reject_share(
    context: dg.AssetCheckExecutionContext, erp: ErpExportsResource
) -> dg.AssetCheckResult:
    checked = materialization_to_check(context.instance, PRODUCTS_SYNC, context.run.run_id)
    return reject_share_result(
        PRODUCTS_SYNC,
        checked,
        erp.reject_share_limit,
        refused="failed",
        total="products_considered",
    )


PIXEE_CHECKS = [products_sync_reject_share]
