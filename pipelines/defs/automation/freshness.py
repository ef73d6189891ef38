"""Freshness of the vendor loads: each must have been updated in the day before the deadline
(SYNC_DEADLINE_HOUR, default 07:00, in the partitions' timezone), and the UI says so unasked.

Dagster 1.13 marks these check factories as superseded by `FreshnessPolicy`, which is attached to
the asset definitions themselves. The loads are defined elsewhere, so here the checks name them by
key; the policy equivalent is `dg.FreshnessPolicy.cron(LOAD_DEADLINE_CRON, LOAD_LOWER_BOUND,
timezone)` on each load asset, should their owners prefer it.

What a check sees is "a materialization in the window", not "yesterday's partition": a backfill
of an old day in the window also counts. `build_time_partition_freshness_checks` would look at the
partition instead, but it expects the *last* partition, which `end_offset=1` makes today's.
"""

from __future__ import annotations

import datetime as dt
import warnings

import dagster as dg

from pipelines.defs import settings
from pipelines.defs.partitions import business_days

LOAD_ASSETS = (
    "paqtana_master_inventory",
    "paqtana_historical_demand",
    "pixee_products_sync",
    "pixee_catalog_cache",
    "pxm_catalog_cache",
)
LOAD_DEADLINE_CRON = f"0 {settings.DEADLINE_HOUR} * * *"
LOAD_LOWER_BOUND = dt.timedelta(days=1)

with warnings.catch_warnings():
    # Superseded, not deprecated; the module docstring says why they are still the right tool.
    warnings.simplefilter("ignore", category=dg.SupersessionWarning)
    load_freshness_checks = dg.build_last_update_freshness_checks(
        assets=[dg.AssetKey(name) for name in LOAD_ASSETS],
        deadline_cron=LOAD_DEADLINE_CRON,
        lower_bound_delta=LOAD_LOWER_BOUND,
        timezone=business_days.timezone,
    )
    load_freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=load_freshness_checks,
        name="load_freshness_sensor",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
