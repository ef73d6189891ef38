"""The run-failure alert: every failed run is logged, and posted to ALERT_WEBHOOK_URL when set.

A webhook that is down or refuses the alert is logged and never fails the sensor: the next
failure must still be seen, and the run's own page already holds the full error.
"""

from __future__ import annotations

import time
from typing import Protocol

import dagster as dg

from pipelines.core.alerts import (
    AlertDeliveryError,
    FailureAlert,
    error_text,
    iso_utc,
    post_alert,
    run_url,
)
from pipelines.defs import settings

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class ErrorInfo(Protocol):
    """The shape of Dagster's SerializableErrorInfo (not exported by `dagster`)."""

    cls_name: str | None
    message: str
    cause: ErrorInfo | None


def run_partition(run: dg.DagsterRun) -> str | None:
    """The run's day, or `first...last` for a range run."""
    tags = run.tags
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    if RANGE_START_TAG in tags:
        return f"{tags[RANGE_START_TAG]}...{tags.get(RANGE_END_TAG, '')}"
    return None


def user_error(error: ErrorInfo) -> ErrorInfo:
    """The error our code raised, not Dagster's wrapper around it ("Error occurred while
    executing op ..."). Stops there: what caused our error may be a lower-level message."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error


def failure_alert(context: dg.RunFailureSensorContext) -> FailureAlert:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    failed_step = step_failures[0].step_key if step_failures else None
    error: ErrorInfo | None = None
    if step_failures:
        error = step_failures[0].step_failure_data.error
    if error is None:  # failed outside a step (launch, resources, cancelled)
        error = getattr(context.failure_event.event_specific_data, "error", None)
    if error is not None:
        error = user_error(error)
        text = error_text(error.cls_name or "", error.message)
    else:
        text = error_text("", context.failure_event.message or "")
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record is not None and record.end_time else time.time()
    return FailureAlert(
        job=run.job_name,
        run_id=run.run_id,
        partition=run_partition(run),
        failed_step=failed_step,
        error=text,
        run_url=run_url(settings.DAGSTER_WEBSERVER_URL, run.run_id),
        time=iso_utc(ended),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Logs every failed run of this code location and posts it as JSON to "
        "ALERT_WEBHOOK_URL when that is set."
    ),
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    alert = failure_alert(context)
    where = f" for {alert.partition}" if alert.partition else ""
    at = f" at step {alert.failed_step}" if alert.failed_step else ""
    context.log.error(f"run {alert.run_id} of {alert.job}{where} failed{at}: {alert.error}")
    url = settings.alert_webhook_url()
    if url is None:
        return
    try:
        status = post_alert(url, alert)
    except AlertDeliveryError as exc:
        context.log.warning(f"failure alert for run {alert.run_id} not delivered: {exc}")
        return
    context.log.info(f"failure alert for run {alert.run_id} delivered (HTTP {status})")
