"""The Pixee catalog over several calendar days against the sandbox: an older day never goes out
over a newer one, a refused product is sent every day until Pixee takes it, a product the ERP
drops is sent once as removed, a product deleted or edited in Pixee is sent again, and a PXM
outage never stops the Pixee batch."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import httpx
import pandas as pd
import pytest

from pipelines.defs.automation.alerts import failure_alert
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.load_checks import DELIVERY_CHECK, PARTIAL_TAG, delivery
from pipelines.defs.pixee.resources import PixeeResource
from tests.conftest import SAMPLE_EXPORTS
from tests.e2e.conftest import base_resources, erp_resource, sandbox_resources
from tests.e2e.helpers import (
    PIXEE_CHAIN,
    batch_posts,
    calendar_day,
    ean,
    materialize,
    meta,
    next_day,
    write_drop,
)

D1, D2, D3, D4 = "2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"
SYNC = "pixee_products_sync"
ENRICHMENT = "pxm_enrichment_from_todays_read"
FORCE = CadenceGuardResource(force=True, reason="re-run of the 16th", endpoints=[])


def catalog(n: int, **fields) -> list[dict]:  # noqa: ANN003
    return [{"ean": ean(i), "name": f"P{i}", "brand_name": "B", **fields} for i in range(1, n + 1)]


def held(sandbox) -> dict[str, dict]:  # noqa: ANN001
    return {p["ean"]: p for p in sandbox.pixee_products()}


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return evaluation


def sync_day(day: str, instance, resources, **kwargs) -> dg.ExecuteInProcessResult:  # noqa: ANN001, ANN003
    """The chain for `day`, on the morning after it (the schedule's time)."""
    with calendar_day(next_day(day)):
        return materialize(PIXEE_CHAIN, day, instance, resources, **kwargs)


def test_a_rerun_of_an_older_day_sends_no_pixee_write_forced_or_not(
    res, instance, sandbox, exports
):
    products = catalog(5, status="active")
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    later = [dict(p) for p in products]
    later[1]["status"] = "inactive"
    write_drop(exports, D2, later)
    sync_day(D2, instance, res)
    assert held(sandbox)[ean(2)]["status"] == "inactive"
    posts = len(batch_posts(sandbox))

    with calendar_day(next_day(D3)):  # a failed Monday re-run on Wednesday, a UI backfill
        plain = materialize(PIXEE_CHAIN, D1, instance, res)
        forced = materialize(PIXEE_CHAIN, D1, instance, res | {"cadence": FORCE})
    for run in (plain, forced):
        assert meta(run, SYNC)["cadence"].startswith(
            f"nothing sent: superseded: the ERP's newer complete drop of {D2} replaces the {D1} "
            "snapshot"
        )
    shutil.rmtree(exports / D2)  # the ERP cleaned its folder: the ledger still knows
    with calendar_day(next_day(D4)):
        gone = materialize(PIXEE_CHAIN, D1, instance, res | {"cadence": FORCE})
    assert meta(gone, SYNC)["cadence"].startswith(
        f"skipped: superseded: the vendor holds the newer snapshot of {D2}"
    )
    assert len(batch_posts(sandbox)) == posts
    assert held(sandbox)[ean(2)]["status"] == "inactive"
    assert held(sandbox)[ean(2)]["is_active"] is False


def test_a_refused_product_is_resent_every_day_until_accepted_and_each_run_lists_it(
    res, instance, sandbox, exports
):
    products = catalog(4)
    refused = ean(2)
    runs, warnings = [], []
    for day in (D1, D2, D3):
        write_drop(exports, day, products)
        if day != D3:  # Pixee refuses it two mornings, then takes it
            sandbox.add_fault(kind="partial_batch", eans=[refused], message="EAN locked")
        with calendar_day(next_day(day)):
            result = materialize([*PIXEE_CHAIN, delivery], day, instance, res)
        runs.append(meta(result, SYNC))
        checks = result.get_asset_check_evaluations()
        [verdict] = [c for c in checks if c.check_name == DELIVERY_CHECK]
        tags = instance.get_run_by_id(result.run_id).tags
        warnings.append((verdict.passed, tags.get(PARTIAL_TAG)))
    first, second, third = runs
    # the run page warns while Pixee still refuses it, and stops warning the day it is taken
    still = "pixee: 1 refused by Pixee"
    assert warnings == [(False, still), (False, still), (True, None)]

    assert (first["to_send"], first["failed"], first["still_failing"]) == (4, 1, 1)
    # day 2 carries exactly yesterday's refusal: not "identical", sent again; day 3 the same
    for m in (second, third):
        assert m["cadence"].startswith("sent: the write of")
        assert (m["to_send"], m["retried"]) == (1, 1)
    assert (second["failed"], second["still_failing"]) == (1, 1)
    assert (third["failed"], third["still_failing"], third["sent"]) == (0, 0, 1)
    since = next_day(D1)
    for m, sends in ((first, 1), (second, 2)):
        table = m["still_failing_products"]
        assert f"| {refused} | {since} | {sends} | EAN locked |" in table
        rejects = pd.read_csv(m["rejects_file"], dtype=str)
        assert list(rejects.value) == [refused]
        assert rejects.reason[0] == (
            f"refused by Pixee: EAN locked (failing since {since}, refused by {sends} send(s))"
        )
    assert "rejects_file" not in third  # nothing refused: no path to follow
    sizes = [p["body_bytes"] for p in batch_posts(sandbox)]
    assert len(sizes) == 3 and sizes[0] > sizes[1] == sizes[2]  # the one product, twice
    assert refused in held(sandbox)


def test_a_product_dropped_from_the_erp_is_sent_once_as_inactive(res, instance, sandbox, exports):
    products = catalog(30)
    dropped = ean(7)
    without = [p for p in products if p["ean"] != dropped]
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    write_drop(exports, D2, without)
    second = meta(sync_day(D2, instance, res), SYNC)
    assert (second["removed_from_erp"], second["removed_sent"]) == (1, 1)
    assert second["removed_status"] == "inactive"
    assert (held(sandbox)[dropped]["status"], held(sandbox)[dropped]["name"]) == ("inactive", "P7")
    posts = len(batch_posts(sandbox))

    write_drop(exports, D3, without)  # still absent: not sent again
    third = meta(sync_day(D3, instance, res), SYNC)
    assert third["cadence"].startswith("nothing sent: no new or changed product")
    assert len(batch_posts(sandbox)) == posts

    write_drop(exports, D4, products)  # back in the export, without a status column
    fourth = meta(sync_day(D4, instance, res), SYNC)
    assert (fourth["to_send"], fourth["restored"]) == (1, 1)
    assert held(sandbox)[dropped]["status"] == "active"


def test_a_removed_share_above_the_limit_stops_the_send_until_forced(
    res, instance, sandbox, exports
):
    products = catalog(20)
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    truncated = products[:17] + [{"ean": ean(99), "name": "New", "brand_name": "B"}]
    write_drop(exports, D2, truncated)
    blocked = meta(sync_day(D2, instance, res), SYNC)
    assert blocked["cadence"] == (
        "blocked: removed_share: 3 of 20 products Pixee holds from the ERP are absent from the "
        f"{D2} drop: 15% is above MAX_REMOVED_SHARE=0.05 (5%) (lift it for one run with "
        "force on this endpoint and a reason)"
    )
    assert len(batch_posts(sandbox)) == 1 and ean(99) not in held(sandbox)
    force = CadenceGuardResource(
        force=True, reason="3 products discontinued", endpoints=["pixee_products_batch"]
    )
    with calendar_day(next_day(D2), hour=9):
        lifted = meta(materialize(PIXEE_CHAIN, D2, instance, res | {"cadence": force}), SYNC)
    assert lifted["cadence"].startswith("sent: forced: 3 products discontinued")
    assert (lifted["removed_sent"], lifted["new"]) == (3, 1)
    assert {held(sandbox)[ean(i)]["status"] for i in (18, 19, 20)} == {"inactive"}


def test_removals_wait_while_the_drop_had_rows_refused(res, instance, sandbox, exports):
    products = catalog(30)
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    bad_row = {"ean": "1234567890123", "name": "typo'd EAN", "brand_name": "B"}
    write_drop(exports, D2, [p for p in products if p["ean"] != ean(3)] + [bad_row])
    m = meta(sync_day(D2, instance, res), SYNC)
    assert m["removed_from_erp"] == 1 and m["removed_sent"] == 0
    assert m["removals_held_back"].startswith(f"1 row(s) of the {D2} drop were refused at extract")
    assert held(sandbox)[ean(3)]["status"] is None  # never set by us


def test_keep_sends_nothing_for_a_product_the_erp_dropped(res, instance, sandbox, exports):
    keep = res | {
        "pixee": PixeeResource(
            base_url=sandbox.pixee_url, api_key="pm_test_sandbox", removed_status="keep"
        )
    }
    products = catalog(30)
    write_drop(exports, D1, products)
    sync_day(D1, instance, keep)
    write_drop(exports, D2, products[1:])
    m = meta(sync_day(D2, instance, keep), SYNC)
    assert (m["removed_status"], m["removed_from_erp"], m["removed_sent"]) == ("keep", 1, 0)
    assert len(batch_posts(sandbox)) == 1


def test_a_product_deleted_or_edited_in_pixee_is_sent_again_the_next_day(
    res, instance, sandbox, exports
):
    products = catalog(5)
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    with calendar_day(next_day(D1), hour=12):  # a person, in the PIM, at noon
        sandbox.pixee.delete_in_pim(ean(3))
        httpx.patch(
            f"{sandbox.pixee_url}/products/{ean(2)}",
            json={"name": "edited in PIM"},
            headers={"X-API-Key": "pm_test_sandbox"},
        ).raise_for_status()
    write_drop(exports, D2, products)
    second = sync_day(D2, instance, res)
    cache = meta(second, "pixee_catalog_cache")
    assert (cache["pixee_total"], cache["deleted_in_pixee"]) == (4, 1)
    assert cache["full_list"].startswith("Pixee holds 4 products, the local copy 5")
    drift = check(second, "reconciliation").metadata
    assert (drift["missing_in_pixee"].value, drift["fields_differing"].value) == (1, 1)
    assert drift["requeued_for_next_send"].value == 2
    assert meta(second, SYNC)["cadence"].startswith("nothing sent")  # the read comes after

    write_drop(exports, D3, products)
    third = meta(sync_day(D3, instance, res), SYNC)
    assert (third["requeued"], third["to_send"], third["sent"]) == (2, 2, 2)
    assert held(sandbox)[ean(2)]["name"] == "P2" and ean(3) in held(sandbox)


def test_a_correction_is_followed_by_the_erp_fields_at_the_next_send(
    res, instance, sandbox, exports, tmp_path
):
    from pipelines.defs.ops.pixee_patch_products import OP_NAME, pixee_patch_products

    products = catalog(3)
    write_drop(exports, D1, products)
    sync_day(D1, instance, res)
    fix = tmp_path / "fix.csv"
    fix.write_text(f"ean,name,url_slug\n{ean(1)},Typo fixed in Pixee,p-1\n")
    job = dg.Definitions(jobs=[pixee_patch_products], resources=res).resolve_job_def(
        "pixee_patch_products"
    )
    with calendar_day(next_day(D1), hour=12):
        corrected = job.execute_in_process(
            run_config={"ops": {OP_NAME: {"config": {"corrections_file": str(fix)}}}},
            instance=instance,
        )
    output = next(e for e in corrected.all_events if e.is_successful_output)
    assert output.event_specific_data.metadata["requeued_for_next_send"].value == 1
    assert held(sandbox)[ean(1)]["name"] == "Typo fixed in Pixee"

    write_drop(exports, D2, products)
    m = meta(sync_day(D2, instance, res), SYNC)
    assert (m["requeued"], m["sent"]) == (1, 1)
    # the ERP owns the name; the slug it leaves empty keeps the correction
    assert (held(sandbox)[ean(1)]["name"], held(sandbox)[ean(1)]["url_slug"]) == ("P1", "p-1")


def test_a_pxm_token_endpoint_answering_503_all_day_still_lets_the_pixee_batch_go_out(
    tmp_path, instance, pxm_sandbox, exports
):
    sample = (SAMPLE_EXPORTS / "2026-11-21" / "products.csv").read_text().splitlines()
    late = sample[1].split(",")[0]  # a product the ERP adds on day 2, known to PXM

    def drop(day: str, rows: list[str]) -> None:
        folder = write_drop(exports, day)
        (folder / "products.csv").write_text("\n".join(rows) + "\n")

    resources = (
        base_resources(tmp_path) | sandbox_resources(pxm_sandbox) | {"erp": erp_resource(exports)}
    )
    drop(D1, [sample[0], *sample[2:]])
    first = sync_day(D1, instance, resources)
    assert meta(first, "pixee_products_payload")["fields_filled_from_pxm"]["url_slug"] == 149
    assert check(first, ENRICHMENT).passed

    pxm_sandbox.add_fault(kind="status", vendor="pxm", path="oauth/authorize", times=10_000)
    drop(D2, sample)
    second = sync_day(D2, instance, resources, raise_on_error=False)

    assert not second.success  # the PXM failure stays visible: the step failed, an alert goes
    [failed] = [e for e in second.all_events if e.is_step_failure]
    assert failed.step_key == "pxm_catalog_cache"
    alert = failure_alert(
        dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_instance=instance,
            dagster_run=second.dagster_run,
            dagster_event=second.get_run_failure_event(),
        ).for_run_failure()
    )
    assert alert.failed_step == "pxm_catalog_cache" and "HTTP 503" in alert.error
    payload = meta(second, "pixee_products_payload")
    assert payload["pxm_read_in_this_run"] == "failure"
    assert payload["enrichment"].endswith(
        "1.0 days old: today's PXM read failed or did not run; enriched from the last good read"
    )
    assert payload["fields_filled_from_pxm"]["url_slug"] == 150
    warning = check(second, ENRICHMENT)
    assert not warning.passed and warning.severity is dg.AssetCheckSeverity.WARN
    assert warning.metadata["pxm_cache_age_days"].value == pytest.approx(1.0, abs=0.01)
    sync = meta(second, SYNC)
    assert sync["cadence"].startswith("sent: the write of")
    # the new product, and the sample's nameless one Pixee refuses every day
    assert (sync["new"], sync["retried"], sync["sent"], sync["still_failing"]) == (2, 1, 1, 1)
    assert held(pxm_sandbox)[late]["url_slug"] == "produit-00001"  # from yesterday's cache

    drop(D3, sample)
    with calendar_day((dt.date.fromisoformat(D3) + dt.timedelta(days=8)).isoformat()):
        stale = materialize(PIXEE_CHAIN, D3, instance, resources, raise_on_error=False)
    assert meta(stale, "pixee_products_payload")["enrichment"].startswith(
        "none: the PXM cache read at"
    )
    assert (
        "past PXM_CACHE_MAX_AGE_DAYS=7; synced without PXM enrichment"
        in meta(stale, "pixee_products_payload")["enrichment"]
    )
    assert meta(stale, SYNC)["cadence"].startswith(("sent", "nothing sent"))
