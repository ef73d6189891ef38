"""Jobs a person or the automation launches."""

import dagster as dg

from pipelines.defs.partitions import business_days

daily_sync = dg.define_asset_job(
    "daily_sync",
    selection=dg.AssetSelection.all(),
    partitions_def=business_days,
    description="Everything from the ERP drop to the vendor loads for one business day.",
)

# Both assets run a whole partition range in ONE run (BackfillPolicy.single_run), so a year of
# history launched from the UI's backfill dialog is one run sending size-capped requests.
demand_backfill = dg.define_asset_job(
    "demand_backfill",
    selection=dg.AssetSelection.assets("erp_demand", "paqtana_historical_demand"),
    partitions_def=business_days,
    description="Initial load of historical demand over a range of days, as one run (the "
    "vendor's documented exception to the one-send-a-day rule; the same range twice a day is "
    "refused).",
)
