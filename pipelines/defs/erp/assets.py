"""Extract assets: one business day of items and products, any range of demand.

Each writes its clean frame to staging (one file per day) and its refused rows to a rejects CSV,
and a blocking check stops the loads when the clean frame is empty or too much was refused.
"""

import dagster as dg
import pandas as pd

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.extract import ExtractResult, extract_demand, extract_snapshot
from pipelines.core.shares import percent, share_against_limit
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.partitions import daily_asset, demand_window, partition_days, range_label
from pipelines.defs.staging import StagingResource

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


def _rejects_preview(rejects: pd.DataFrame) -> dg.MetadataValue:
    """The first refused rows, `reason` first (the table is cut at the UI's width) and each file
    by its name, not its full path or URL."""
    first = [c for c in ("reason", "file", "line", "field", "value") if c in rejects.columns]
    shown = rejects.head(10)[first + [c for c in rejects.columns if c not in first]].copy()
    if "file" in shown.columns:
        shown["file"] = shown["file"].map(lambda f: str(f).rstrip("/").rsplit("/", 1)[-1])
    return _preview(shown)


def _materialize(
    context: dg.AssetExecutionContext,
    erp: ErpExportsResource,
    staging: StagingResource,
    result: ExtractResult,
    label: str,
    clean_rows: int,
    *,
    empty_ok: bool = False,
    extra: dict | None = None,
) -> dg.MaterializeResult:
    """`empty_ok`: no clean row is a valid answer (a zero-sales day of demand), not a fault."""
    asset = context.asset_key.to_user_string()
    rejects_path = staging.store().write_rejects(asset, label, result.rejects)
    share, limit = result.reject_share, erp.reject_share_limit
    if result.rows_rejected:
        context.log.warning(
            f"{result.rows_rejected} of {result.rows_read} rows refused; see {rejects_path}"
        )
    if clean_rows == 0 and not empty_ok:
        reason = "no clean rows: nothing to send"
    elif share > limit:
        reason = (
            f"{result.rows_rejected} of {result.rows_read} rows refused: "
            f"{share_against_limit(share, limit, 'MAX_REJECT_SHARE')}; see {rejects_path}"
        )
    else:
        reason = "ok"
    if reason != "ok":
        # Dagster's own line says only "1 blocking asset check failed": this one says why.
        context.log.error(
            f"blocking check {asset}/{USABLE_CHECK} failed, so the loads that read {asset} do "
            f"not run: {reason}"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": clean_rows,
            "rows_read": result.rows_read,
            "rows_rejected": result.rows_rejected,
            "reject_share": percent(share),
            "rows_superseded": result.rows_superseded,
            **(extra or {}),
            "files": dg.MetadataValue.json(result.files),
            "preview": _preview(result.clean),
            # where and why, only when something was refused
            **(
                {
                    "rejects_file": dg.MetadataValue.path(str(rejects_path)),
                    "rejects_preview": _rejects_preview(result.rejects),
                }
                if result.rows_rejected
                else {}
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=USABLE_CHECK,
                passed=reason == "ok",
                severity=dg.AssetCheckSeverity.ERROR,
                description=reason,
                metadata={
                    "reason": reason,
                    "clean_rows": clean_rows,
                    "rows_rejected": result.rows_rejected,
                    "rows_read": result.rows_read,
                    "reject_share": percent(share, limit),
                    "max_reject_share": percent(limit, share),
                },
            )
        ],
    )


def _snapshot_asset(kind: FileKind, description: str) -> dg.AssetsDefinition:
    name = f"erp_{kind.value}"

    @dg.asset(
        name=name,
        **daily_asset("erp", kinds={"csv", "pandas"}),
        description=description,
        check_specs=[_usable_check(name)],
    )
    def _extract(
        context: dg.AssetExecutionContext, erp: ErpExportsResource, staging: StagingResource
    ) -> dg.MaterializeResult:
        first, last = partition_days(context)
        known = erp.locations().known_locations() if kind is FileKind.ITEMS else None
        with erp.export_store() as exports:
            result = extract_snapshot(exports, last, kind, erp.mapping(), known)
        staging.store().write_day(name, last, result.clean)
        if kind is FileKind.ITEMS:  # what the inventory load may carry forward
            staging.store().write_day(f"{name}_refused", last, result.refused)
        return _materialize(
            context, erp, staging, result, range_label(first, last), len(result.clean)
        )

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
    **daily_asset("erp", kinds={"csv", "pandas"}),
    check_specs=[_usable_check("erp_demand")],
    description="Daily demand totals per day + location + code from `history/` and every "
    "complete drop (a daily drop beats history, a newer drop an older one; order lines are "
    "summed), for the DEMAND_CATCHUP_DAYS ending at the run's day (a backfill: its range). "
    "A header-only demand file is a valid zero-sales day.",
)
def erp_demand(
    context: dg.AssetExecutionContext, erp: ErpExportsResource, staging: StagingResource
) -> dg.MaterializeResult:
    first, last = demand_window(context)
    locations = erp.locations()
    with erp.export_store() as exports:
        result = extract_demand(exports, first, last, erp.mapping(), locations.known_locations())
    staging.store().write_days("erp_demand", first, last, result.clean)
    outside = {
        "window": range_label(first, last),
        "rows_outside_window": result.rows_outside_range,
        "history_rows_outside_window": result.history_rows_outside_range,
    }
    return _materialize(
        context,
        erp,
        staging,
        result,
        range_label(*partition_days(context)),
        len(result.clean),
        empty_ok=True,
        extra=outside,
    )
