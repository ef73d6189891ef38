"""The external calls the ledger budgets, by name. A business day is synced when every daily
write below is done for it."""

PAQTANA_MASTER_INVENTORY = "paqtana PUT master_inventory"
PAQTANA_HISTORICAL_DEMAND = "paqtana POST historical_demand"
PIXEE_PRODUCTS_BATCH = "pixee POST products/batch"
PIXEE_DELTA_READ = "pixee GET products/delta"
PXM_CATALOG_READ = "pxm GET catalog"

DAILY_WRITES = (PAQTANA_MASTER_INVENTORY, PAQTANA_HISTORICAL_DEMAND, PIXEE_PRODUCTS_BATCH)
