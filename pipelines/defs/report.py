"""The run's last step: the daily sync report (`pipelines/core/sync_report.py`), written as a
Markdown file under the data folder and shown on the step's materialization.

It is NOT downstream of the loads in the graph: Dagster skips every step downstream of a failed
one, and a failed load is what the report must tell most. It runs last instead: the lowest
priority, so an in-process run (one step at a time) starts it when nothing else is left; where
steps run side by side (multiprocess, Celery) and others have not ended, it asks to be retried a
little later rather than wait, so it never holds a worker the other steps need. It reads what
they recorded from the instance, by the figures' keys."""

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster import DagsterEventType

from pipelines.core.atomic_file import atomic_path
from pipelines.core.sync_report import CheckResult, RunFigures, build_report, markdown, reasons_in
from pipelines.defs.load_checks import PARTIAL_TAG, partial_delivery_warning
from pipelines.defs.partitions import daily_asset, partition_days, range_label
from pipelines.defs.staging import StagingResource

REPORT_ASSET = "daily_sync_report"
# While other steps run, the report step is retried after 5 s, 10 s, ... at most 30 s apart; on
# the last retry (about an hour on) it is written with the steps still running named.
MAX_RETRIES = 120
RETRY_MAX_S = 30
LAST = {"dagster/priority": "-100"}
ENDED = frozenset({"SUCCESS", "FAILURE", "SKIPPED"})
IN_PROCESS_EXECUTORS = frozenset({"execute_in_process_executor", "in_process"})


def _values(metadata: dict) -> dict:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def _scalars(metadata: dict) -> str:
    """A check without a description, told by its figures (`missing_in_pixee: 1`)."""
    return ", ".join(
        f"{k}: {v.value}"
        for k, v in metadata.items()
        if isinstance(v.value, int | float | str)
        and v.value not in (0, "")
        and not isinstance(v, dg.MarkdownMetadataValue)
    )


def _reasons(path: str) -> list[tuple[str, int]]:
    try:
        return reasons_in(pd.read_csv(path, usecols=["reason"])["reason"].fillna(""))
    except (OSError, ValueError):  # gone, or not a rejects file: the count still says it
        return []


def run_figures(
    instance: dg.DagsterInstance,
    run_id: str,
    day: str,
    assets_of_step: Callable[[str], set[str]],
    *,
    job: str = "daily_sync",
    not_ended: list[str] | None = None,
) -> RunFigures:
    """What the run recorded: each asset's last materialization's metadata values, its check
    results, the failed steps (their failure metadata standing for the one asset of the step
    that has no materialization), and the reasons counted in each rejects file named."""
    figures = RunFigures(job=job, run_id=run_id, day=day, not_ended=not_ended or [])
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION, limit=10_000
    ).records:
        mat = record.event_log_entry.dagster_event.step_materialization_data.materialization
        figures.materializations[mat.asset_key.to_user_string()] = _values(mat.metadata)
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000
    ).records:
        e = record.event_log_entry.dagster_event.event_specific_data
        figures.checks.append(
            CheckResult(
                e.asset_key.to_user_string(),
                e.check_name,
                e.passed,
                e.severity.value,
                e.description or _scalars(e.metadata),
            )
        )
    for record in instance.get_records_for_run(
        run_id, of_type=DagsterEventType.STEP_FAILURE, limit=10_000
    ).records:
        event = record.event_log_entry.dagster_event
        data = event.step_failure_data
        message = data.user_failure_data.description if data.user_failure_data else None
        message = " ".join((message or (data.error.message if data.error else "failed")).split())
        assets = sorted(assets_of_step(event.step_key))
        unloaded = [a for a in assets if a not in figures.materializations]
        # the assets it did not materialize; all of them when it failed after (a blocking check)
        for asset in unloaded or assets:
            figures.failures[asset] = message
        meta = data.user_failure_data.metadata if data.user_failure_data else {}
        if len(unloaded) == 1 and "cadence" in meta:
            figures.materializations[unloaded[0]] = _values(meta)
    for values in figures.materializations.values():
        path = values.get("rejects_file")
        if path and str(path) not in figures.reasons:
            figures.reasons[str(path)] = _reasons(str(path))
    return figures


def step_assets(job_def: dg.JobDefinition) -> Callable[[str], set[str]]:
    """The assets a step of `job_def` materializes (a multi-asset's step has several)."""
    from dagster._core.definitions.dependency import NodeHandle

    def assets(step_key: str) -> set[str]:
        node = job_def.asset_layer.get_assets_def_for_node(NodeHandle(step_key, None))
        return {k.to_user_string() for k in node.keys} if node else set()

    return assets


def report_path(staging: StagingResource, day: str, run_id: str) -> Path:
    return staging.root / "reports" / day / f"{run_id}.md"


def _in_process(context: dg.AssetExecutionContext) -> bool:
    execution = (context.run.run_config or {}).get("execution") or {}
    chosen = execution.get("config") or {}
    return context.job_def.executor_def.name in IN_PROCESS_EXECUTORS or "in_process" in chosen


def steps_not_ended(context: dg.AssetExecutionContext) -> list[str]:
    """The run's other steps that have not ended. In-process none: this step starts after all
    the others (lowest priority, one step at a time)."""
    if _in_process(context):
        return []
    instance, run = context.instance, context.run
    snapshot_id = run.execution_plan_snapshot_id
    plan = instance.get_execution_plan_snapshot(snapshot_id) if snapshot_id else None
    others = set(plan.step_keys_to_execute if plan else []) - {context.op_handle.name}
    ended = {
        s.step_key
        for s in instance.get_run_step_stats(run.run_id)
        if s.status is not None and s.status.value in ENDED
    }
    return sorted(others - ended)


@dg.asset(
    **daily_asset("reports", kinds={"markdown"}),
    op_tags=LAST,
    description="The daily sync report, the run's last step: per vendor (Paqtana inventory, "
    "Paqtana demand, Pixee, PXM) what was sent, kept out or refused (with the reasons and the "
    "rejects file), carried forward, skipped and why (cadence decisions, safeguards), and the "
    "next step to take. Written to `<ERP_SYNC_DATA_DIR>/reports/<day>/<run_id>.md` and shown "
    "here. Not downstream of the loads, so a failed load is reported, not skipped: it runs "
    "last, retried a little later while other steps of the run have not ended.",
)
def daily_sync_report(
    context: dg.AssetExecutionContext, staging: StagingResource
) -> Iterator[dg.MaterializeResult]:
    not_ended = steps_not_ended(context)
    if not_ended and context.retry_number < MAX_RETRIES:
        raise dg.RetryRequested(
            max_retries=MAX_RETRIES,
            seconds_to_wait=min(RETRY_MAX_S, 5 * (context.retry_number + 1)),
        )
    first, last = partition_days(context)
    day = range_label(first, last)
    run_id = context.run.run_id
    figures = run_figures(
        context.instance,
        run_id,
        day,
        step_assets(context.job_def),
        job=context.job_def.name,
        not_ended=not_ended,
    )
    report = build_report(figures)
    text = markdown(report)
    path = report_path(staging, day, run_id)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    yield dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(text),
            "report_file": dg.MetadataValue.path(str(path)),
            "write_requests": report.wrote,
            "read_requests": report.requests - report.wrote,
        }
    )
    # after the materialization, so the run page's log (scrolled to its end) shows it
    run = context.instance.get_run_by_id(run_id)
    if partial := (run.tags if run else {}).get(PARTIAL_TAG):
        context.log.warning(f"The report: {path}. {partial_delivery_warning(partial)}")
