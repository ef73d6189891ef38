"""The vendor loads by asset name, and the freshness check each carries: named in one place for
the checks, the jobs (which leave those checks to their sensor) and the UI's reports."""

LOAD_ASSETS = (
    "paqtana_master_inventory",
    "paqtana_historical_demand",
    "pixee_products_sync",
    "pixee_catalog_cache",
    "pxm_catalog_cache",
)
FRESHNESS_CHECK = "synced_by_deadline"
