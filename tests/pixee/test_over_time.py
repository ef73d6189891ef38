"""The rules that make the Pixee catalog a snapshot over days, each without Dagster: removals and
their safeguard, a returning product, refusals kept with their first day, requeued products,
the identical-payload rule left out while a send carries them, deletions seen by the read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipelines.core.pixee.catalog_cache import (
    DELTA_CURSOR,
    DELTA_EPOCH,
    delta_since,
    full_list_due,
)
from pipelines.core.pixee.changes import plan_upserts
from pipelines.core.pixee.payloads import content_hash
from pipelines.core.pixee.reconcile import Drift, requeue_drift
from pipelines.core.pixee.removals import plan_removals, removed_status
from pipelines.core.pixee.sync import catalog_send, still_failing
from pipelines.core.pixee.synced_state import (
    Held,
    SyncedProducts,
    mark_refused,
    mark_synced,
)
from pipelines.core.state_db import make_engine, set_cursor

DAY = dt.date(2026, 11, 21)
T = dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC)


def product(n: int, **fields) -> dict:  # noqa: ANN003
    return {"ean": f"{n:013d}", "name": f"P{n}", **fields}


def holding(products: list[dict], **state) -> dict[str, Held]:  # noqa: ANN003
    return {p["ean"]: Held(content_hash(p), T, **state) for p in products}


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'state.db'}")


@pytest.mark.parametrize(
    ("setting", "status"),
    [("inactive", "inactive"), (" Archived ", "archived"), ("keep", None), ("", None)],
)
def test_removed_status_is_inactive_archived_or_keep(setting, status):
    if setting == "":
        with pytest.raises(ValueError, match="PIXEE_REMOVED_STATUS='' is not one of"):
            removed_status(setting)
        return
    assert removed_status(setting) == status


def test_a_product_synced_before_and_absent_from_the_drop_is_removed_once():
    catalog = [product(n) for n in range(1, 41)]
    held = holding(catalog) | {"0000000000099": Held("h", T, removed_status="inactive")}
    removals = plan_removals(
        {p["ean"] for p in catalog[1:]}, held, "inactive", day=DAY, max_share=0.05
    )
    assert removals.bodies == [{"ean": catalog[0]["ean"], "status": "inactive"}]
    assert removals.safeguard.passed and removals.holding == 40  # one already removed: not again
    assert removals.safeguard.reason == (
        f"1 of 40 products Pixee holds from the ERP are absent from the {DAY} drop: 2.5% is "
        "within MAX_REMOVED_SHARE=0.05 (5%)"
    )


def test_a_removed_share_above_the_limit_fails_the_safeguard_and_keep_sends_nothing():
    catalog = [product(n) for n in range(1, 11)]
    present = {p["ean"] for p in catalog[:9]}
    removals = plan_removals(present, holding(catalog), "archived", day=DAY, max_share=0.05)
    assert not removals.safeguard.passed
    assert removals.safeguard.reason.endswith("drop: 10% is above MAX_REMOVED_SHARE=0.05 (5%)")
    kept = plan_removals(present, holding(catalog), None, day=DAY, max_share=0.05)
    assert kept.bodies == [] and kept.candidates == [catalog[9]["ean"]]
    assert kept.held_back.startswith("PIXEE_REMOVED_STATUS=keep")


def test_removals_wait_for_a_drop_read_whole():
    catalog = [product(n) for n in range(1, 41)]
    present = {p["ean"] for p in catalog[1:]}
    waiting = plan_removals(
        present, holding(catalog), "inactive", day=DAY, max_share=0.05, rows_refused_at_extract=2
    )
    assert waiting.bodies == [] and waiting.safeguard is None
    assert waiting.held_back.startswith("2 row(s) of the 2026-11-21 drop were refused at extract")


def test_a_product_back_from_removal_gets_the_erp_status_or_active():
    back, with_status = product(1), product(2, status="inactive")
    held = {
        back["ean"]: Held("removal hash", T, removed_status="inactive"),
        with_status["ean"]: Held("removal hash", T, removed_status="archived"),
    }
    plan = plan_upserts([back, with_status], held)
    assert plan.to_send == [{**back, "status": "active"}, with_status]
    assert (plan.changed, plan.restored) == (2, 1)
    # what is recorded is the ERP's product: tomorrow it is unchanged
    assert plan.hashes[back["ean"]] == content_hash(back)


def test_a_requeued_product_goes_out_again_and_the_identical_rule_is_left_out():
    catalog = [product(1), product(2)]
    held = holding(catalog)
    held[catalog[0]["ean"]] = Held(content_hash(catalog[0]), T, requeued="edited in Pixee: name")
    plan = plan_upserts(catalog, held)
    assert plan.to_send == [catalog[0]] and (plan.requeued, plan.unchanged) == (1, 1)
    assert catalog_send(plan).plan.payload_hash is None


def test_a_send_carrying_a_refused_product_has_no_payload_hash_and_others_keep_it():
    catalog = [product(1), product(2)]
    refused = plan_upserts(catalog, holding(catalog[:1]), refused={catalog[1]["ean"]})
    assert (refused.new, refused.retried) == (1, 1)
    assert catalog_send(refused, refused=[catalog[1]["ean"]]).plan.payload_hash is None
    fresh = plan_upserts(catalog, holding(catalog[:1]))
    assert catalog_send(fresh).plan.payload_hash is not None
    removal = plan_removals(set(), holding(catalog[:1]), "inactive", day=DAY, max_share=1.0)
    empty = plan_upserts([], {})
    assert catalog_send(empty, removal, refused=[catalog[0]["ean"]]).plan.payload_hash is None
    assert catalog_send(empty, removal).plan.safeguards == [removal.safeguard]


def test_a_refusal_keeps_its_first_day_and_an_acceptance_clears_it(engine):
    state = SyncedProducts(engine)
    a, b = product(1)["ean"], product(2)["ean"]
    with engine.begin() as conn:
        mark_refused(conn, {a: "EAN locked", b: "bad brand"}, "run-1", DAY)
    with engine.begin() as conn:
        mark_refused(conn, {a: "EAN still locked"}, "run-2", DAY + dt.timedelta(days=1))
    first = state.refused()[a]
    assert (first.first_refused_on, first.last_refused_on) == ("2026-11-21", "2026-11-22")
    assert (first.refusals, first.reason) == (2, "EAN still locked")
    assert [r.ean for r in still_failing(state.refused(), [a])] == [a]
    with engine.begin() as conn:
        mark_synced(conn, {a: "h"}, "run-3", data_as_of=DAY)
    assert set(state.refused()) == {b}
    assert state.held()[a].data_as_of == "2026-11-21"


def test_requeue_touches_only_products_pixee_took_and_acceptance_clears_it(engine):
    state = SyncedProducts(engine)
    a, never = product(1)["ean"], product(2)["ean"]
    state.mark({a: "h"}, "run-1")
    assert state.requeue([a, never], "corrected by hand") == 1
    assert state.held()[a].requeued == "corrected by hand" and never not in state.held()
    state.mark({a: "h"}, "run-2")
    assert state.held()[a].requeued is None


def test_the_read_counts_pixee_and_lists_it_all_when_products_were_deleted():
    assert full_list_due(99, 100, DAY, DAY).startswith(
        "Pixee holds 99 products, the local copy 100: products were deleted in Pixee"
    )
    assert full_list_due(101, 100, DAY, DAY).endswith("the copy misses some")
    assert full_list_due(100, 100, DAY - dt.timedelta(days=3), DAY) is None
    assert full_list_due(100, 100, DAY - dt.timedelta(days=7), DAY).startswith(
        "the last full list is 7 days old"
    )
    assert full_list_due(100, 100, None, DAY) == "no full list read yet"


def test_a_lost_copy_is_read_whole_again(engine, tmp_path):
    copy = tmp_path / "catalog.parquet"
    with engine.begin() as conn:
        set_cursor(conn, DELTA_CURSOR, "2026-11-21T05:00:00Z")
    assert delta_since(engine, copy) == DELTA_EPOCH
    pd.DataFrame({"ean": ["1"]}).to_parquet(copy)
    assert delta_since(engine, copy) == "2026-11-21T05:00:00Z"


def test_drift_requeues_what_pixee_took_as_today_and_lost_or_changed_later():
    ours = [product(n) for n in (1, 2, 3, 4)]
    held = holding(ours) | {"0000000000009": Held("gone", T)}
    read_at = T + dt.timedelta(hours=24)
    pixee = pd.DataFrame(
        {
            "ean": [ours[1]["ean"], ours[2]["ean"], ours[3]["ean"]],
            "name": ["edited in PIM", "normalised", "P4"],
            # an edit at noon; a rewrite Pixee made when it took our value at 05:00
            "updated_at": ["2026-11-22T12:00:00Z", "2026-11-22T05:00:01Z", "2026-11-22T05:00Z"],
        }
    )
    drift = Drift(
        missing=[ours[0]["ean"]],
        differing=[
            (ours[1]["ean"], "name", "P2", "edited in PIM"),
            (ours[2]["ean"], "name", "P3", "normalised"),
        ],
    )
    today = {p["ean"]: content_hash(p) for p in ours}
    queue = requeue_drift(drift, pixee, held, today, read_at)
    assert queue.missing == [ours[0]["ean"]]
    assert queue.edited == {ours[1]["ean"]: ["name"]}
    assert queue.gone == ["0000000000009"]  # deleted there, and the ERP no longer has it
    # accepted after the read began: the copy cannot show it yet
    assert requeue_drift(drift, pixee, held, today, T) == type(queue)()
    # the ERP changed it today: it goes out anyway, nothing to requeue
    changed = today | {ours[0]["ean"]: "new content"}
    assert requeue_drift(drift, pixee, held, changed, read_at).missing == []
