"""Jobs a person or the automation launches."""

import dagster as dg

from pipelines.defs.partitions import business_days

daily_sync = dg.define_asset_job(
    "daily_sync",
    selection=dg.AssetSelection.all(),
    partitions_def=business_days,
    description="Everything from the ERP drop to the vendor loads for one business day.",
)
