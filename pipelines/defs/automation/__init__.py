"""Automation of daily_sync: the morning schedule, the ERP-arrival sensor, the run-failure alert
and the freshness checks of the vendor loads. The code location wires these three lists."""

from pipelines.defs.automation.alerts import run_failure_alert
from pipelines.defs.automation.freshness import load_freshness, load_freshness_sensor
from pipelines.defs.automation.schedules import daily_sync_schedule
from pipelines.defs.automation.sensors import erp_drop_sensor

SCHEDULES = [daily_sync_schedule]
SENSORS = [erp_drop_sensor, run_failure_alert, load_freshness_sensor]
ASSET_CHECKS = [load_freshness]

__all__ = ["ASSET_CHECKS", "SCHEDULES", "SENSORS"]
