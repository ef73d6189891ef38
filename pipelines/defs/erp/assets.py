"""Extract assets: one business day of items and products, any range of demand.

Each writes its clean frame to staging (one file per day) and its refused rows to a rejects CSV,
and a blocking check stops the loads when the clean frame is empty or too much was refused.
"""

import dagster as dg
import pandas as pd

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.extract import ExtractResult, extract_demand, extract_snapshot
from pipelines.defs import settings
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import business_days, partition_days, range_label

USABLE_CHECK = "usable"


def _usable_check(asset: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        USABLE_CHECK,
        asset=asset,
        blocking=True,
        description="Blocks the loads when the clean frame is empty or the share of refused "
        "rows is above MAX_REJECT_SHARE.",
    )


def _preview(frame: pd.DataFrame, rows: int = 10) -> dg.MetadataValue:
    head = frame.head(rows).map(lambda v: "" if pd.isna(v) else str(v))
    if head.empty:
        return dg.MetadataValue.md("_no rows_")
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += [
        "| " + " | ".join(v.replace("|", "\\|") for v in row) + " |"
        for row in head.itertuples(index=False)
    ]
    return dg.MetadataValue.md("\n".join(lines))


def _materialize(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    result: ExtractResult,
    label: str,
    clean_rows: int,
) -> dg.MaterializeResult:
    asset = context.asset_key.to_user_string()
    rejects_path = erp.staging().write_rejects(asset, label, result.rejects)
    share = result.reject_share
    if result.rows_rejected:
        context.log.warning(
            f"{result.rows_rejected} of {result.rows_read} rows refused; see {rejects_path}"
        )
    usable = clean_rows > 0 and share <= erp.max_reject_share
    reason = (
        "no clean rows"
        if clean_rows == 0
        else f"{share:.1%} of rows refused, above the {erp.max_reject_share:.1%} limit"
        if share > erp.max_reject_share
        else "ok"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": clean_rows,
            "rows_read": result.rows_read,
            "rows_rejected": result.rows_rejected,
            "reject_share": share,
            "rows_superseded": result.rows_superseded,
            "rejects_file": dg.MetadataValue.path(str(rejects_path)),
            "files": dg.MetadataValue.json(result.files),
            "preview": _preview(result.clean),
            "rejects_preview": _preview(result.rejects),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=USABLE_CHECK,
                passed=usable,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"reason": reason, "clean_rows": clean_rows, "reject_share": share},
            )
        ],
    )


def _snapshot_asset(kind: FileKind, description: str) -> dg.AssetsDefinition:
    name = f"erp_{kind.value}"

    @dg.asset(
        name=name,
        group_name="erp",
        kinds={"csv", "pandas"},
        owners=settings.OWNERS,
        partitions_def=business_days,
        description=description,
        check_specs=[_usable_check(name)],
    )
    def _extract(
        context: dg.AssetExecutionContext, erp: ErpExportsResource
    ) -> dg.MaterializeResult:
        first, last = partition_days(context)
        known = erp.locations().known_locations() if kind is FileKind.ITEMS else None
        with erp.export_store() as exports:
            result = extract_snapshot(exports, last, kind, erp.mapping(), known)
        erp.staging().write_day(name, last, result.clean)
        return _materialize(context, erp, result, range_label(first, last), len(result.clean))

    return _extract


erp_items = _snapshot_asset(
    FileKind.ITEMS,
    "Items x locations of the ERP drop `<ERP_EXPORT_DIR>/<day>/items.*` (read only once its "
    "`_SUCCESS` marker exists), typed and validated; refused rows go to the rejects file. "
    "Feeds Paqtana's master inventory (a full snapshot).",
)
erp_products = _snapshot_asset(
    FileKind.PRODUCTS,
    "Products of the ERP drop `<ERP_EXPORT_DIR>/<day>/products.*` with EAN check digits "
    "verified; refused rows go to the rejects file. Feeds the Pixee catalog sync.",
)


@dg.asset(
    group_name="erp",
    kinds={"csv", "pandas"},
    owners=settings.OWNERS,
    partitions_def=business_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[_usable_check("erp_demand")],
    description="Daily demand totals per day + location + code from `history/` and every "
    "complete drop (a daily drop beats history, a newer drop an older one; order lines are "
    "summed). Backfillable over ranges in one run.",
)
def erp_demand(context: dg.AssetExecutionContext, erp: ErpExportsResource) -> dg.MaterializeResult:
    first, last = partition_days(context)
    locations = erp.locations()
    with erp.export_store() as exports:
        result = extract_demand(exports, first, last, erp.mapping(), locations.known_locations())
    erp.staging().write_days("erp_demand", first, last, result.clean)
    return _materialize(context, erp, result, range_label(first, last), len(result.clean))
