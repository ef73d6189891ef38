"""Checks on what the Paqtana loads reported: every demand request stayed under the byte cap, and
the share of rows refused before sending stayed under MAX_REJECT_SHARE.

The checks read the metadata of the asset's materialization from the instance instead of being
yielded by the assets, so the loads stay as they are and a person can re-run a check alone from
the UI. They run after the load has sent, so they warn and mark the asset red; they cannot block
the send itself (the upstream `usable` checks of the extracts do that).

`materialization_to_check` and `reject_share_result` are shared with the Pixee checks; they
would sit well in `pipelines/defs/load_metadata.py`.
"""

from dataclasses import dataclass, field

import dagster as dg

from pipelines.defs.erp.resources import ErpExportsResource

MASTER_INVENTORY = dg.AssetKey("paqtana_master_inventory")
HISTORICAL_DEMAND = dg.AssetKey("paqtana_historical_demand")
BYTE_CAP_CHECK = "requests_under_byte_cap"
REJECT_SHARE_CHECK = "rejects_share_under_threshold"


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


def byte_cap_result(
    asset: dg.AssetKey, checked: CheckedMaterialization | None
) -> dg.AssetCheckResult:
    """Pass when the largest request built is at most the cap it was built for."""
    if checked is None:
        return not_evaluable(asset, "never materialized")
    values = checked.values
    if "largest_request_bytes" not in values or "byte_cap" not in values:
        return not_evaluable(
            asset, "the latest materialization has no largest_request_bytes/byte_cap"
        )
    largest, cap = int(values["largest_request_bytes"]), int(values["byte_cap"])
    return dg.AssetCheckResult(
        passed=largest <= cap,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"largest request {largest:,} bytes, cap {cap:,} bytes",
        metadata={
            "largest_request_bytes": largest,
            "byte_cap": cap,
            "headroom_bytes": cap - largest,
            "chunks": int(values.get("chunks", 0)),
            **checked.source,
        },
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
        description=f"{refused_rows} of {total_rows} refused ({share:.1%}; limit {limit:.1%})",
        metadata=metadata,
    )


@dg.asset_check(
    asset=HISTORICAL_DEMAND,
    name=BYTE_CAP_CHECK,
    description="Payload chunks under the byte cap: the largest historical demand request of the "
    "materialization is at most the cap it was built for (32 MB measured; `max_body_bytes` on "
    "the paqtana resource). Paqtana answers 413 above it.",
)
def demand_requests_under_byte_cap(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    checked = materialization_to_check(context.instance, HISTORICAL_DEMAND, context.run.run_id)
    return byte_cap_result(HISTORICAL_DEMAND, checked)


def _reject_share_check(asset: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=REJECT_SHARE_CHECK,
        description="Rejects share under threshold: rows refused before sending (rows_rejected) "
        "over rows read (rows_in) in the materialization is at most MAX_REJECT_SHARE. Refused "
        "rows are absent in Paqtana; the rejects file says why.",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, erp: ErpExportsResource
    ) -> dg.AssetCheckResult:
        checked = materialization_to_check(context.instance, asset, context.run.run_id)
        return reject_share_result(
            asset, checked, erp.max_reject_share, refused="rows_rejected", total="rows_in"
        )

    return _check


master_inventory_reject_share = _reject_share_check(MASTER_INVENTORY)
historical_demand_reject_share = _reject_share_check(HISTORICAL_DEMAND)

PAQTANA_CHECKS = [
    demand_requests_under_byte_cap,
    master_inventory_reject_share,
    historical_demand_reject_share,
]
