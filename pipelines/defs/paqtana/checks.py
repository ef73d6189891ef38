"""Checks on what the Paqtana loads reported: every demand request stayed under the byte cap, and
the share of rows refused before sending stayed under MAX_REJECT_SHARE.

The checks read the metadata of the asset's materialization from the instance instead of being
yielded by the assets, so the loads stay as they are and a person can re-run a check alone from
the UI. They run after the load has sent, so they warn and mark the asset red; they cannot block
the send itself (the upstream `usable` checks of the extracts do that).

The shared pieces (finding the materialization, judging a rejects share) are in
`pipelines/defs/load_checks.py`.
"""

import dagster as dg

from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.figures import megabytes
from pipelines.defs.load_checks import (
    CheckedMaterialization,
    materialization_to_check,
    not_evaluable,
    reject_share_result,
)

MASTER_INVENTORY = dg.AssetKey("paqtana_master_inventory")
HISTORICAL_DEMAND = dg.AssetKey("paqtana_historical_demand")
BYTE_CAP_CHECK = "requests_under_byte_cap"
REJECT_SHARE_CHECK = "rejects_share_under_threshold"


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
        description=f"largest request {megabytes(largest)}, cap {megabytes(cap)}",
        metadata={
            "largest_request_bytes": largest,
            "byte_cap": cap,
            "headroom_bytes": cap - largest,
            "chunks": int(values.get("chunks", 0)),
            **checked.source,
        },
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
            asset, checked, erp.reject_share_limit, refused="rows_rejected", total="rows_in"
        )

    return _check


master_inventory_reject_share = _reject_share_check(MASTER_INVENTORY)
historical_demand_reject_share = _reject_share_check(HISTORICAL_DEMAND)

PAQTANA_CHECKS = [
    demand_requests_under_byte_cap,
    master_inventory_reject_share,
    historical_demand_reject_share,
]
