"""The thin Dagster layer: assets, checks, jobs, schedules, sensors and resources that wire the
pure core (`pipelines.core`)."""

import warnings

import dagster as dg

# Every asset runs day ranges in one run (`partitions.DAILY_BACKFILL_POLICY`); Dagster 1.13 marks
# the `backfill_policy` parameter as beta on each decorator. Known and chosen: not worth a
# warning each time the code location loads.
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `backfill_policy` .* is currently in beta",
    category=dg.BetaWarning,
)
