"""Freshness by the deadline, on the business calendar: on each morning after a day that expects
a drop, every vendor load must have synced that day's drop (its partition, or a newer one) by
SYNC_DEADLINE_HOUR; a morning after a weekend or a holiday expects nothing. An expected drop still
missing at the deadline raises ONE alert that day, not one per tick.

Our own checks rather than Dagster's `build_last_update_freshness_checks`: those expect an update
every day (a weekend would fail them and alert) and describe themselves in generic words. The
`load_freshness_sensor` evaluates them once a day after the deadline and reports each result on
the asset page (a runless check evaluation); a person can also run them from the UI.
"""

import datetime as dt
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.core.alerts import AlertDeliveryError, MissingDropAlert, post_alert
from pipelines.core.business_calendar import BusinessCalendar
from pipelines.core.clock import sync_clock
from pipelines.defs import settings
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.loads import FRESHNESS_CHECK, LOAD_ASSETS
from pipelines.defs.partitions import business_days

# Mornings kept in the sensor's cursor (alerted / evaluated).
CURSOR_MAX_DAYS = 60


def deadline_label() -> str:
    return f"{settings.DEADLINE_HOUR:02d}:00 {business_days.timezone}"


def _description(asset: str) -> str:
    return (
        f"{asset} updated by {deadline_label()}: each morning it has synced the drop of the "
        f"business day before ({settings.BUSINESS_DAYS}); a morning after a day without a drop "
        "expects nothing."
    )


@dataclass(frozen=True)
class Verdict:
    asset: str
    passed: bool
    description: str
    drop_day: dt.date


def morning_of(now: dt.datetime) -> dt.date:
    """The last morning whose deadline has passed at `now` (local to the partitions)."""
    local = now.astimezone(ZoneInfo(business_days.timezone))
    return local.date() if local.hour >= settings.DEADLINE_HOUR else local.date() - dt.timedelta(1)


def judge(
    instance: dg.DagsterInstance, morning: dt.date, calendar: BusinessCalendar
) -> list[Verdict]:
    """Each load's verdict for `morning`: did it sync the previous day's drop (or a newer one)?"""
    day = morning - dt.timedelta(days=1)
    if not calendar.expects_drop(day):
        why = f"no drop expected: {calendar.why_no_drop(day)}"
        return [Verdict(a, True, why, day) for a in LOAD_ASSETS]
    verdicts = []
    for asset in LOAD_ASSETS:
        synced = {
            key
            for key in instance.get_materialized_partitions(dg.AssetKey(asset))
            if key >= day.isoformat()
        }
        if synced:
            verdicts.append(Verdict(asset, True, f"synced {max(synced)} by the deadline", day))
        else:
            verdicts.append(
                Verdict(
                    asset,
                    False,
                    f"{asset} has not synced the drop of {day} by {deadline_label()} on {morning}",
                    day,
                )
            )
    return verdicts


def _check_fields(verdict: Verdict) -> dict:
    """What a verdict says on the asset page, as a run's check result or a runless one."""
    return {
        "asset_key": dg.AssetKey(verdict.asset),
        "check_name": FRESHNESS_CHECK,
        "passed": verdict.passed,
        "severity": dg.AssetCheckSeverity.WARN,
        "description": verdict.description,
        "metadata": {"drop_day": verdict.drop_day.isoformat(), "deadline": deadline_label()},
    }


def check_evaluation(verdict: Verdict) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(**_check_fields(verdict))


@dg.multi_asset_check(
    name="load_freshness",
    specs=[
        dg.AssetCheckSpec(FRESHNESS_CHECK, asset=asset, description=_description(asset))
        for asset in LOAD_ASSETS
    ],
    description="Each vendor load synced the last business day's drop by the deadline.",
    can_subset=True,
)
def load_freshness(context):  # noqa: ANN001, ANN201 - a multi-asset check context; results
    morning = morning_of(sync_clock(settings.SYNC_NOW)())
    selected = {key.asset_key.to_user_string() for key in context.selected_asset_check_keys}
    for verdict in judge(context.instance, morning, settings.business_calendar()):
        if verdict.asset in selected:
            yield dg.AssetCheckResult(**_check_fields(verdict))


@dg.sensor(
    name="load_freshness_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Once a morning after SYNC_DEADLINE_HOUR: records each vendor load's synced_by_deadline "
        "check, and sends ONE alert when the business day's ERP drop is still missing."
    ),
)
def load_freshness_sensor(
    context: dg.SensorEvaluationContext, erp: ErpExportsResource
) -> dg.SensorResult:
    now = sync_clock(settings.SYNC_NOW)()
    morning = morning_of(now)
    done = set(json.loads(context.cursor)) if context.cursor else set()
    if morning.isoformat() in done:
        return dg.SensorResult(skip_reason=f"{morning} already judged", cursor=context.cursor)
    calendar = settings.business_calendar()
    verdicts = judge(context.instance, morning, calendar)
    for verdict in verdicts:
        context.instance.report_runless_asset_event(check_evaluation(verdict))
    day = morning - dt.timedelta(days=1)
    why = erp.drop_not_ready(day) if calendar.expects_drop(day) else None
    if why is not None:
        _alert(context, MissingDropAlert(day.isoformat(), deadline_label(), why, now.isoformat()))
    cursor = json.dumps(sorted(done | {morning.isoformat()})[-CURSOR_MAX_DAYS:])
    stale = [v.asset for v in verdicts if not v.passed]
    summary = (
        f"{morning}: {len(stale)} load(s) not synced by the deadline: {', '.join(stale)}"
        if stale
        else f"{morning}: every load fresh ({verdicts[0].description})"
    )
    return dg.SensorResult(skip_reason=summary, cursor=cursor)


def _alert(context: dg.SensorEvaluationContext, alert: MissingDropAlert) -> None:
    context.log.error(alert.text)
    url = settings.alert_webhook_url()
    if url is None:
        return
    try:
        post_alert(url, alert)
    except AlertDeliveryError as exc:
        context.log.warning(f"missing-drop alert for {alert.day} not delivered: {exc}")
