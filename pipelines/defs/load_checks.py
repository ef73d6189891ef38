"""Asset checks over what a load reported in its materialization metadata, shared by the
Paqtana and Pixee checks: find the materialization to judge, judge a rejects share, and the one
check every vendor load has, `delivered_in_full`, that makes a partial failure visible."""

from dataclasses import dataclass, field

import dagster as dg

from pipelines.core.shares import percent
from pipelines.core.sync_report import DELIVERY_CHECK
from pipelines.defs.sync_load import RE_SEND_CONFIG, tag_run


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
        "share": percent(share),
        "max_share": percent(limit),
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


# --- Delivered in full: the partial failures a green run would otherwise hide --------------------

# The loads that write to a vendor, and how the run's tag names each (PXM is only read).
DELIVERY_LOADS = {
    "paqtana_master_inventory": "paqtana inventory",
    "paqtana_historical_demand": "paqtana demand",
    "pixee_products_sync": "pixee",
}
PARTIAL_TAG = "erp_sync/partial"
DELIVERY_DESCRIPTION = (
    "Delivered in full: warns when the load left something out although the run succeeded: "
    "items refused before sending (data faults, in the rejects file), refused by the vendor, "
    "carried forward (yesterday's value kept for a faulty field), removals held back, or a "
    "send stopped by a safeguard. The run also gets the tag erp_sync/partial."
)


def shortfalls(asset: str, values: dict) -> list[str]:
    """What a load's materialization says it did not deliver, in a person's words."""
    vendor = asset.split("_")[0].capitalize()
    out = []
    cadence = str(values.get("cadence", ""))
    if cadence.startswith("blocked"):
        out.append("nothing sent: stopped by a safeguard: " + cadence.removeprefix("blocked: "))
    if refused := int(values.get("refused", 0)):
        out.append(f"{refused} refused before sending")
    if failed := int(values.get("failed", 0)):
        out.append(f"{failed} refused by {vendor}")
    elif still := int(values.get("still_failing", 0)):
        out.append(f"{still} still refused by {vendor} since an earlier send")
    if carried := int(values.get("rows_carried_forward", 0)):
        out.append(f"{carried} carried forward")
    if values.get("removals_held_back"):
        out.append(f"removals held back: {values['removals_held_back']}")
    return out


def delivery_result(
    key: dg.AssetCheckKey, checked: CheckedMaterialization | None
) -> tuple[dg.AssetCheckResult, str | None]:
    """The check's result, and what it puts in the run's partial tag (None: nothing missing)."""
    asset = key.asset_key.to_user_string()
    if checked is None:
        result = dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{asset}: never materialized",
        )
        return result, None
    values = checked.values
    missing = shortfalls(asset, values)
    metadata: dict = {
        "shortfall": "; ".join(missing) or "none",
        **{k: values[k] for k in ("cadence", "sent", "refused", "failed") if k in values},
    }
    for name in ("still_failing", "rows_carried_forward", "requests_to"):
        if name in values:
            metadata[name] = values[name]
    if missing and "rejects_file" in values:
        metadata["rejects_file"] = dg.MetadataValue.path(str(values["rejects_file"]))
    result = dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{asset}: " + ("; ".join(missing) if missing else "nothing left out"),
        metadata=metadata | checked.source,
    )
    return result, f"{DELIVERY_LOADS.get(asset, asset)}: {', '.join(missing)}" if missing else None


@dg.multi_asset_check(
    name="delivery",
    specs=[
        dg.AssetCheckSpec(DELIVERY_CHECK, asset=asset, description=DELIVERY_DESCRIPTION)
        for asset in DELIVERY_LOADS
    ],
    can_subset=True,
    # After every other ready step, so its warning is the run's last words on the run page.
    op_tags={"dagster/priority": "-10"},
    description="Each vendor load delivered everything it was given; the run's partial "
    "failures, in one warning at its end and the erp_sync/partial run tag.",
)
def delivery(context: dg.AssetCheckExecutionContext):  # noqa: ANN201 - yields check results
    instance, run_id = context.instance, context.run.run_id
    judged = [
        delivery_result(key, materialization_to_check(instance, key.asset_key, run_id))
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path)
    ]
    for result, _partial in sorted(judged, key=lambda j: not j[0].passed):  # failures last
        yield result
    partial = [p for _result, p in judged if p]
    if partial:
        text = "; ".join(partial)
        tag_run(instance, run_id, {PARTIAL_TAG: text})
        context.log.warning(partial_delivery_warning(text))


def partial_delivery_warning(partial: str) -> str:
    """The run's partial failures (its PARTIAL_TAG) in one line with the re-send: logged by
    this check and again by the run's last step, so it ends the run page's log."""
    retried = " (Pixee's refusals go again with the next daily send)" if "pixee" in partial else ""
    return (
        f"Partial delivery: {partial}. Each item and why is in its load's rejects file{retried}. "
        f"To send this day again now: Open in Launchpad from this run and paste {RE_SEND_CONFIG}"
    )


DELIVERY_CHECKS = [delivery]
