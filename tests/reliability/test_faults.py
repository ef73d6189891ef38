"""One daily sync per fault class against the sandbox, and one that mixes them all: every accepted
row is accepted exactly once, every refused row is in the rejects file with the vendor's reason,
the vendors' cadence is kept, and a run that could not get its data through fails saying why."""

from __future__ import annotations

import pandas as pd
import stamina

from tests.e2e.helpers import ean
from tests.reliability.figures import PAQTANA_DEMAND, PIXEE_BATCH, PXM_COLLECTION, pixee_rejects
from tests.reliability.harness import DAY, Drop, materialization

# The clients' timeout in scenarios with a `slow` fault: well above a local answer even on a
# busy 2-core machine (a spurious timeout would retry a write the sandbox had applied).
READ_TIMEOUT_S = 2.0
# Attempts per request in these tests (the autouse stamina fixture).
ATTEMPTS = 6


def gap_after_fault(sandbox, path: str) -> float:
    """Seconds between the faulted request to `path` and the next request to it."""
    to_path = [r for r in sandbox.requests() if r["path"] == path]
    faulted = next(i for i, r in enumerate(to_path) if r["fault"])
    return to_path[faulted + 1]["unix_time"] - to_path[faulted]["unix_time"]


def test_429_retry_after_is_waited_out_and_one_asking_too_long_fails_saying_so(scenario, sandbox):
    Drop().write(scenario.exports)
    for vendor, method, path in [
        ("paqtana", "POST", "historical_demand"),
        ("pixee", "POST", "products/batch"),
        ("pxm", "GET", "collection"),
    ]:
        sandbox.add_fault(
            kind="status", status=429, retry_after=1, vendor=vendor, method=method, path=path
        )
    # Longer than the client waits (300 s): it does not wait, it fails and says so.
    sandbox.add_fault(kind="status", status=429, retry_after=900, vendor="paqtana", method="PUT")
    sandbox.add_fault(kind="status", status=429, retry_after=900, path="products/batch")
    stamina.set_testing(False)  # real waits: the point is that Retry-After is honoured
    first = scenario.run()
    assert not first.success
    asked = "failed: HTTP 429: asked to wait 900s, more than the 300s this client waits"
    assert sorted(scenario.failures) == [
        f"pipelines.core.http.VendorError: Paqtana PUT v2/org/demo-org/master_inventory {asked}",
        f"pipelines.core.http.VendorError: Pixee POST /products/batch {asked}",
    ]
    for path in (PAQTANA_DEMAND, PIXEE_BATCH, PXM_COLLECTION):
        assert gap_after_fault(sandbox, path) >= 0.95, path
    demand = materialization(first, "paqtana_historical_demand")
    assert demand["status_codes"]["429"] == 1 and demand["seconds_waited"] >= 0.95
    assert scenario.run().success
    figures = scenario.audit("429 with Retry-After")
    assert figures.rows_sent == figures.rows_in == 3 + 120 + 7
    scenario.assert_survived(figures, faults=5)


def test_500_and_503_bursts_are_retried_and_a_longer_burst_fails_then_resumes(scenario, sandbox):
    Drop().write(scenario.exports)
    sandbox.add_fault(kind="status", status=500, vendor="paqtana", method="PUT", times=2)
    sandbox.add_fault(kind="status", status=503, vendor="paqtana", method="POST", times=3)
    sandbox.add_fault(kind="status", status=503, vendor="pxm", path="category", times=2)
    # Six attempts per request (the autouse stamina fixture): nine 500s outlast one request.
    sandbox.add_fault(kind="status", status=500, vendor="pixee", path="products/batch", times=9)
    first = scenario.run()
    assert not first.success
    assert scenario.failures == [
        "pipelines.core.http.VendorError: Pixee POST /products/batch failed: HTTP 500: "
        "injected failure"
    ]
    demand = materialization(first, "paqtana_historical_demand")
    assert demand["status_codes"] == {"503": 3, "200": demand["chunks"] + 1}
    second = scenario.run()
    assert second.success
    assert materialization(second, "pixee_products_sync")["status_codes"]["500"] == 3
    scenario.assert_survived(scenario.audit("500/503 bursts"), faults=16)


def test_read_timeouts_are_retried_and_nothing_is_applied_twice(scenario, sandbox):
    Drop().write(scenario.exports)
    for vendor, method, path in [
        ("paqtana", "PUT", "master_inventory"),
        ("paqtana", "POST", "historical_demand"),
        ("pixee", "POST", "products/batch"),
        ("pxm", "GET", "collection"),
    ]:
        sandbox.add_fault(kind="slow", delay_s=30, vendor=vendor, method=method, path=path)
    result = scenario.run(timeout_s=READ_TIMEOUT_S)
    assert result.success
    inventory = materialization(result, "paqtana_master_inventory")
    assert inventory["status_codes"] == {"200": 2, "no answer": 1}
    scenario.assert_survived(scenario.audit("read timeouts"), faults=4)


def test_connection_resets_are_retried(scenario, sandbox):
    Drop().write(scenario.exports)
    for vendor, method, path in [
        ("paqtana", "PUT", "master_inventory"),
        ("paqtana", "POST", "historical_demand"),
        ("pixee", "GET", "status"),
        ("pixee", "POST", "products/batch"),
        ("pxm", "POST", "authorize"),
        ("pxm", "GET", "attribute"),
    ]:
        sandbox.add_fault(kind="drop", vendor=vendor, method=method, path=path, times=2)
    assert scenario.run().success
    scenario.assert_survived(scenario.audit("connection resets"), faults=12)


def test_malformed_answers_are_retried_and_one_that_persists_fails_quoting_it(
    scenario, sandbox, wire
):
    """A 200 that is not the vendor's JSON is no proof the request was applied: every send here
    is safe to repeat, so it is retried like a 5xx; one that outlasts the retries fails the run
    quoting the body's first bytes, and the re-run sends only what was not accepted."""
    Drop().write(scenario.exports)
    sandbox.add_fault(kind="malformed", vendor="pxm", path="collection")
    sandbox.add_fault(kind="malformed", vendor="paqtana", method="PUT")
    sandbox.add_fault(kind="malformed", vendor="pixee", path="products/batch")
    wire.after(
        "demand",
        2,
        lambda: sandbox.add_fault(
            kind="malformed", vendor="paqtana", path="historical_demand", times=ATTEMPTS
        ),
    )
    first = scenario.run()
    assert not first.success
    assert scenario.failures == [
        "pipelines.core.http.VendorError: Paqtana POST v2/org/demo-org/historical_demand "
        "failed: HTTP 200: answer is not JSON; the answer began "
        "b'<html><body><h1>Service temporarily unavailable</h1></body></html>'"
    ]
    assert len(sandbox.pixee_products()) == 7  # one malformed batch answer, retried: all in

    second = scenario.run()
    demand = materialization(second, "paqtana_historical_demand")
    assert second.success
    assert demand["chunks_already_accepted"] == 2
    assert demand["chunks_sent"] == demand["chunks"] - 2
    assert [p["auto_calculate"] for p in sandbox.demand_posts()][-1:] == [True]
    scenario.assert_survived(scenario.audit("malformed JSON answers"), faults=3 + ATTEMPTS)


def test_pixee_partial_batch_failure_puts_each_refused_product_in_the_rejects_file(
    scenario, sandbox
):
    Drop(products=12).write(scenario.exports)
    refused = [ean(3), ean(8)]
    sandbox.add_fault(
        kind="partial_batch", eans=refused, first=1, message="EAN locked by another import"
    )
    result = scenario.run()
    assert result.success
    sync = materialization(result, "pixee_products_sync")
    assert (sync["created"], sync["failed"]) == (9, 3)
    rejects = pd.read_csv(sync["rejects_file"], dtype=str)
    assert sorted(rejects.value) == sorted([ean(1), *refused])
    reason = "refused by Pixee: EAN locked by another import (failing since "
    assert rejects.reason.str.startswith(reason).all()
    assert rejects.reason.str.endswith(", refused by 1 send(s))").all()
    figures = scenario.audit("Pixee partial batch failure")
    assert figures.datasets["pixee"].rows_rejected == 3
    scenario.assert_survived(figures, faults=1)


def _refuse_second_demand_chunk(sandbox, wire) -> None:
    wire.after(
        "demand",
        1,
        lambda: sandbox.add_fault(
            kind="status",
            status=422,
            vendor="paqtana",
            path="historical_demand",
            message="data[0].quantities[0]: must be a number",
        ),
    )


def test_paqtana_422_fails_the_run_with_the_validation_message_and_resumes(scenario, sandbox, wire):
    Drop().write(scenario.exports)
    _refuse_second_demand_chunk(sandbox, wire)
    first = scenario.run()
    assert not first.success
    [failure] = scenario.failures
    assert failure.startswith("dagster._core.definitions.events.Failure: Paqtana refused 1 of ")
    assert failure.endswith(
        "operation_type=historical_demand; data[0].quantities[0]: must be a number"
    )
    posts_after_first = len(sandbox.demand_posts())
    second = scenario.run()  # the data was corrected (the sandbox refuses only once)
    assert second.success
    demand = materialization(second, "paqtana_historical_demand")
    # the other chunks went out in the first run (Paqtana merges); only the refused one waited
    assert demand["chunks_already_accepted"] == posts_after_first == demand["chunks"] - 1
    assert demand["chunks_sent"] == 1
    # the recalculation of the first run did not see the refused chunk: it runs again after it
    assert sandbox.demand_posts()[-1]["auto_calculate"]
    scenario.assert_survived(scenario.audit("Paqtana 422 with a validation message"), faults=1)


def test_paqtana_422_rows_are_in_the_rejects_file_with_the_vendor_reason(scenario, sandbox, wire):
    Drop().write(scenario.exports)
    _refuse_second_demand_chunk(sandbox, wire)
    scenario.run(assets=["erp_demand", "paqtana_historical_demand"])
    rejects = pd.read_csv(
        scenario.data_dir / "rejects/paqtana_historical_demand" / f"{DAY}.csv", dtype=str
    )
    assert len(rejects) > 0
    assert rejects.reason.str.contains("data\\[0\\].quantities\\[0\\]: must be a number").all()


def test_pxm_token_expiry_mid_read_fetches_a_new_token_and_completes(scenario, sandbox):
    Drop().write(scenario.exports)
    sandbox.add_fault(kind="expire_tokens", vendor="pxm", path="category")
    result = scenario.run()
    assert result.success
    pxm = materialization(result, "pxm_catalog_cache")
    assert (pxm["token_fetches"], pxm["collections"]) == (2, 7)
    assert [r["status"] for r in sandbox.requests("pxm") if "category" in r["path"]] == [401, 200]
    scenario.assert_survived(scenario.audit("PXM token expiry mid-run"), faults=1)


def test_every_fault_class_in_one_daily_sync(scenario, sandbox, wire):
    """All classes at once; the run fails where data could not get through (the 422, the
    malformed chunk), the re-run after the fix sends only what was not accepted."""
    Drop(products=12).write(scenario.exports)
    add = sandbox.add_fault
    add(kind="status", status=429, retry_after=1, vendor="pxm", path="collection")
    add(kind="expire_tokens", vendor="pxm", path="category")
    add(kind="slow", delay_s=30, vendor="pxm", path="attribute")
    add(kind="status", status=500, vendor="paqtana", path="workspaces", times=2)
    add(kind="drop", vendor="paqtana", method="PUT")
    add(
        kind="status",
        status=422,
        vendor="paqtana",
        method="PUT",
        message="data[2].onHandStock: must be a number, got 'n/a'",
    )
    add(kind="status", status=503, vendor="paqtana", path="historical_demand", times=2)
    wire.after(
        "demand",
        3,
        lambda: add(kind="malformed", vendor="paqtana", path="historical_demand", times=ATTEMPTS),
    )
    add(kind="drop", vendor="pixee", path="status")
    add(kind="status", status=429, retry_after=2, vendor="pixee", path="products/batch")
    add(kind="partial_batch", eans=[ean(5)], message="brand_name: unknown brand")
    first = scenario.run(timeout_s=READ_TIMEOUT_S)
    refused = pixee_rejects(scenario.data_dir)
    assert list(refused.value) == [ean(5)]
    [reason] = refused.reason
    assert reason.startswith("refused by Pixee: brand_name: unknown brand (failing since ")
    # one step loads both, inventory first; the refused PUT did not stop the demand send
    [failure] = scenario.failures
    assert failure.startswith("dagster._core.definitions.events.Failure: both Paqtana loads failed")
    assert (
        "(1) Failure: Paqtana refused 1 of 1 request(s) (3 row(s)" in failure
        and "operation_type=master_inventory; data[2].onHandStock: must be a number, got 'n/a'"
        in failure
    )
    assert (
        "(2) VendorError: Paqtana POST v2/org/demo-org/historical_demand failed: HTTP 200: "
        "answer is not JSON; the answer began b'<html>" in failure
    )
    assert not first.success
    second = scenario.run(timeout_s=READ_TIMEOUT_S)
    assert second.success
    posts = sandbox.demand_posts()
    assert [p["auto_calculate"] for p in posts] == [False] * (len(posts) - 1) + [True]
    figures = scenario.audit("every fault class in one daily sync")
    assert figures.datasets["pixee"].rows_rejected == 1
    scenario.assert_survived(figures, faults=12 + ATTEMPTS)


def test_a_rerun_the_cadence_guard_skips_keeps_the_days_pixee_rejects(scenario, sandbox):
    Drop().write(scenario.exports)
    sandbox.add_fault(kind="partial_batch", eans=[ean(2)], message="EAN locked")
    pixee_only = ["erp_products", "pixee_products_payload", "pixee_products_sync"]
    scenario.run(assets=pixee_only)
    assert list(pixee_rejects(scenario.data_dir).value) == [ean(2)]
    scenario.run(assets=pixee_only)
    assert list(pixee_rejects(scenario.data_dir).value) == [ean(2)]
