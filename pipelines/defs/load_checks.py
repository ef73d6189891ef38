"""Asset checks over what a load reported in its materialization metadata, shared by the
Paqtana and Pixee checks: find the materialization to judge, and judge a rejects share."""

from dataclasses import dataclass, field

import dagster as dg

from pipelines.core.shares import percent


@dataclass(frozen=True)
class CheckedMaterialization:
    asset: dg.AssetKey
    values: dict  # metadata values, plain Python
    source: dict = field(default_factory=dict)  # run_id and partition, shown with the verdict


def materialization_to_check(
    instance: dg.DagsterInstance, asset: dg.AssetKey, run_id: str | None
) -> CheckedMaterialization | None:
    """The asset's materialization in run `run_id` when that run made one (two days syncing at
    once must not judge each other's loads), else its latest (a check launched alone)."""
    event = None
    if run_id:
        in_run = [
            e
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.asset_materialization is not None and e.asset_materialization.asset_key == asset
        ]
        event = in_run[-1] if in_run else None
    event = event or instance.get_latest_materialization_event(asset)
    if event is None or event.asset_materialization is None:
        return None
    materialization = event.asset_materialization
    return CheckedMaterialization(
        asset,
        {k: v.value for k, v in materialization.metadata.items()},
        {"run_id": event.run_id, "partition": materialization.partition or "none"},
    )


def not_evaluable(asset: dg.AssetKey, why: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{asset.to_user_string()}: {why}",
    )


def reject_share_result(
    asset: dg.AssetKey,
    checked: CheckedMaterialization | None,
    limit: float,
    *,
    refused: str,
    total: str,
) -> dg.AssetCheckResult:
    """Pass when metadata `refused` / `total` is at most `limit` (nothing in: share 0)."""
    if checked is None:
        return not_evaluable(asset, "never materialized")
    values = checked.values
    if refused not in values or total not in values:
        return not_evaluable(asset, f"the latest materialization has no {refused}/{total}")
    refused_rows, total_rows = int(values[refused]), int(values[total])
    share = refused_rows / total_rows if total_rows else 0.0
    metadata: dict = {
        refused: refused_rows,
        total: total_rows,
        "share": share,
        "max_share": limit,
        **checked.source,
    }
    if "rejects_file" in values:
        metadata["rejects_file"] = dg.MetadataValue.path(str(values["rejects_file"]))
    return dg.AssetCheckResult(
        passed=share <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{refused_rows} of {total_rows} refused ({percent(share, limit)}; limit "
        f"{percent(limit, share)})",
        metadata=metadata,
    )
