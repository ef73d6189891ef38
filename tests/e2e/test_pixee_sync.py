"""Pixee sync against the sandbox: only what changed crosses the wire, refusals are kept and
resent, scopes are checked before any write, and the delta read feeds reconciliation."""

from __future__ import annotations

import pandas as pd

from erp_sandbox import PixeeConfig, SandboxConfig, run_sandbox
from pipelines.defs.load_checks import DELIVERY_CHECK, PARTIAL_TAG, delivery
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from tests.e2e.conftest import erp_resource
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

D1, D2 = "2026-11-20", "2026-11-21"


def test_second_day_with_one_product_changed_sends_exactly_that_product(
    res, instance, sandbox, exports
):
    products = [
        {"ean": ean(i), "name": f"P{i}", "brand_name": "B", "weight": 1.5} for i in range(1, 6)
    ]
    write_drop(exports, D1, products)
    changed = [dict(p) for p in products]
    changed[2]["name"] = "P3 renamed"
    with calendar_day(next_day(D1)):
        first = materialize(PIXEE_CHAIN, D1, instance, res)
    assert first.success and meta(first, "pixee_products_sync")["to_send"] == 5
    write_drop(exports, D2, changed)
    with calendar_day(next_day(D2)):
        second = materialize(PIXEE_CHAIN, D2, instance, res)
    m = meta(second, "pixee_products_sync")
    assert (m["new"], m["changed"], m["unchanged"], m["to_send"]) == (0, 1, 4, 1)
    posts = batch_posts(sandbox)
    assert len(posts) == 2 and posts[1]["body_bytes"] < posts[0]["body_bytes"]
    stored = {p["ean"]: p for p in sandbox.pixee_products()}
    assert stored[ean(3)]["name"] == "P3 renamed" and stored[ean(1)]["weight"] == 1.5


def test_unchanged_catalog_sends_zero_writes_and_counts_as_synced(res, instance, sandbox, exports):
    write_drop(exports, D1)
    with calendar_day(next_day(D1)):
        materialize(PIXEE_CHAIN, D1, instance, res)
    write_drop(exports, D2)
    with calendar_day(next_day(D2)):
        second = materialize(PIXEE_CHAIN, D2, instance, res)
    assert len(batch_posts(sandbox)) == 1
    assert meta(second, "pixee_products_sync")["cadence"] == (
        "nothing sent: no new or changed product since the last accepted sync"
    )


def test_three_of_500_refused_are_kept_and_resent_next_day_alone(res, instance, sandbox, exports):
    products = [{"ean": ean(i), "name": f"P{i}"} for i in range(1, 501)]
    refused = [ean(7), ean(250), ean(499)]
    write_drop(exports, D1, products)
    sandbox.add_fault(kind="partial_batch", vendor="pixee", eans=refused, message="EAN locked")
    with calendar_day(next_day(D1)):
        first = materialize([*PIXEE_CHAIN, delivery], D1, instance, res)
    m = meta(first, "pixee_products_sync")
    assert (m["created"], m["failed"], m["still_failing"]) == (497, 3, 3)
    # a partial failure in a green run: the warning check, and the run's tags say so
    [verdict] = [c for c in first.get_asset_check_evaluations() if c.check_name == DELIVERY_CHECK]
    assert (verdict.passed, verdict.description) == (
        False,
        "pixee_products_sync: 3 refused by Pixee",
    )
    tags = instance.get_run_by_id(first.run_id).tags
    assert tags[PARTIAL_TAG] == "pixee: 3 refused by Pixee"
    assert tags["erp_sync/requests_to.pixee"] == "sandbox: " + sandbox.url.removeprefix("http://")
    assert "force: true" in tags["erp_sync/re-send"]
    rejects = pd.read_csv(m["rejects_file"], dtype=str)
    assert sorted(rejects.value) == sorted(refused)
    assert set(rejects.reason) == {
        f"refused by Pixee: EAN locked (failing since {next_day(D1)}, refused by 1 send(s))"
    }
    write_drop(exports, D2, products)
    with calendar_day(next_day(D2)):
        second = materialize(PIXEE_CHAIN, D2, instance, res)
    assert meta(second, "pixee_products_sync")["to_send"] == 3
    assert len({p["ean"] for p in sandbox.pixee_products()}) == 500


def test_missing_write_scope_fails_before_any_write(tmp_path, instance, exports):
    write_drop(exports, D1)
    config = SandboxConfig(pixee=PixeeConfig(api_keys={"pm_test_ro": ["ext:products:read"]}))
    with run_sandbox(config) as box:
        resources = {
            "erp": erp_resource(exports),
            "staging": StagingResource(data_dir=str(tmp_path / "data")),
            "state_db": StateDatabaseResource(),
            "pixee": PixeeResource(base_url=box.pixee_url, api_key="pm_test_ro"),
            "pxm": PxmResource(),
        }
        from tests.e2e.conftest import base_resources

        result = materialize(
            PIXEE_CHAIN, D1, instance, base_resources(tmp_path) | resources, raise_on_error=False
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "lacks scope ext:products:write" in failure.step_failure_data.error.cause.message
        assert batch_posts(box) == []


def test_delta_read_advances_the_cursor_and_reconciliation_sees_pim_edits(
    res, instance, sandbox, exports
):
    write_drop(exports, D1)
    with calendar_day(next_day(D1)):
        materialize(PIXEE_CHAIN, D1, instance, res)
    import httpx

    httpx.patch(
        f"{sandbox.pixee_url}/products/{ean(2)}",
        json={"name": "edited in PIM"},
        headers={"X-API-Key": "pm_test_sandbox"},
    )
    write_drop(exports, D2)
    with calendar_day(next_day(D2)):
        instance_day2 = materialize(PIXEE_CHAIN, D2, instance, res)
    m = meta(instance_day2, "pixee_catalog_cache")
    # the cursor moved on; products changed in the cursor's own second may be read again
    assert m["since"] != "1970-01-01T00:00:00Z" and 1 <= m["products_read"] <= 3
    check = instance_day2.get_asset_check_evaluations()[-1]
    assert not check.passed
    assert check.metadata["fields_differing"].value == 1
    assert "edited in PIM" in check.metadata["details"].value
