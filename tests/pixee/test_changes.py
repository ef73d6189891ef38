from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from pipelines.core.pixee.changes import (
    NO_RESULT_MESSAGE,
    BatchOutcome,
    apply_batch_result,
    plan_upserts,
)
from pipelines.core.pixee.payloads import build_products, content_hash


def synced_map(products: list[dict]) -> dict[str, str]:
    return {p["ean"]: content_hash(p) for p in products}


def catalog(n: int) -> list[dict]:
    return [{"ean": f"{i:013d}", "name": f"Product {i}", "weight": 1.0 + i} for i in range(n)]


def test_unchanged_catalog_plans_nothing(three_products: pd.DataFrame) -> None:
    products = build_products(three_products)
    plan = plan_upserts(products, synced_map(products))
    assert plan.to_send == []
    assert (plan.new, plan.changed, plan.unchanged, plan.resent) == (0, 0, 3, 0)
    assert plan.batches() == []


def test_one_changed_product_is_the_only_one_sent(three_products: pd.DataFrame) -> None:
    synced = synced_map(build_products(three_products))
    three_products.loc[1, "weight"] = 0.25
    products = build_products(three_products)
    plan = plan_upserts(products, synced)
    assert plan.to_send == [products[1]]
    assert plan.hashes == {"96385074": content_hash(products[1])}
    assert (plan.new, plan.changed, plan.unchanged) == (0, 1, 2)


def test_a_product_never_synced_is_new(three_products: pd.DataFrame) -> None:
    products = build_products(three_products)
    synced = synced_map(products[:2])
    plan = plan_upserts(products, synced)
    assert [p["ean"] for p in plan.to_send] == ["4006381333931"]
    assert (plan.new, plan.changed, plan.unchanged) == (1, 0, 2)


def test_full_resync_sends_everything(three_products: pd.DataFrame) -> None:
    products = build_products(three_products)
    synced = synced_map(products)
    synced["3760000000001"] = "stale"
    plan = plan_upserts(products, synced, full_resync=True)
    assert plan.to_send == products
    assert (plan.new, plan.changed, plan.unchanged, plan.resent) == (0, 1, 0, 2)
    assert plan.hashes == synced_map(products)


def test_duplicate_ean_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate EAN"):
        plan_upserts([{"ean": "1"}, {"ean": "1", "name": "x"}], {})


def test_batch_of_500_with_3_failures_then_only_those_3_are_resent() -> None:
    products = catalog(500)
    plan = plan_upserts(products, {})
    assert len(plan.to_send) == 500 and plan.new == 500
    failing = {
        "0000000000007": ("error", "Le nom est obligatoire."),
        "0000000000250": ("message", "Poids invalide"),
        "0000000000499": ("errors", ["EAN en double", "verrouillé"]),
    }
    results = []
    for i, p in enumerate(plan.to_send):
        if p["ean"] in failing:
            key, value = failing[p["ean"]]
            results.append({"ean": p["ean"], "status": "error", key: value})
        else:
            results.append(
                {"ean": p["ean"], "status": "created" if i % 2 else "updated", "id": "x"}
            )
    data = {"total": 500, "created": 249, "updated": 248, "errors": 3, "results": results}

    outcome = apply_batch_result(plan.to_send, data)

    assert len(outcome.accepted) == 497
    assert outcome.failed == {
        "0000000000007": "Le nom est obligatoire.",
        "0000000000250": "Poids invalide",
        "0000000000499": "EAN en double; verrouillé",
    }
    assert (outcome.created, outcome.updated) == (248, 249)
    assert outcome.accepted == {e: h for e, h in plan.hashes.items() if e not in failing}

    synced = dict(outcome.accepted)
    second = plan_upserts(products, synced)
    assert [p["ean"] for p in second.to_send] == sorted(failing)
    assert (second.new, second.unchanged) == (3, 497)


def test_a_product_missing_from_the_answer_counts_as_failed() -> None:
    batch = catalog(3)
    data = {"results": [{"ean": batch[0]["ean"], "status": "created"}]}
    outcome = apply_batch_result(batch, data)
    assert list(outcome.accepted) == [batch[0]["ean"]]
    assert outcome.failed == {
        batch[1]["ean"]: NO_RESULT_MESSAGE,
        batch[2]["ean"]: NO_RESULT_MESSAGE,
    }


def test_an_answer_without_results_marks_nothing_synced() -> None:
    batch = catalog(2)
    outcome = apply_batch_result(batch, {"total": 2, "created": 2})
    assert outcome.accepted == {}
    assert set(outcome.failed.values()) == {NO_RESULT_MESSAGE}


def test_unknown_status_is_not_accepted_and_error_wins_over_a_duplicate_success() -> None:
    batch = catalog(2)
    data = {
        "results": [
            {"ean": batch[0]["ean"], "status": "queued"},
            {"ean": batch[1]["ean"], "status": "error", "error": "verrouillé"},
            {"ean": batch[1]["ean"], "status": "updated"},
        ]
    }
    outcome = apply_batch_result(batch, data)
    assert outcome.accepted == {}
    assert outcome.failed == {
        batch[0]["ean"]: "status 'queued' without a message",
        batch[1]["ean"]: "verrouillé",
    }


def test_an_ean8_answered_as_padded_ean13_still_matches() -> None:
    batch = [{"ean": "96385074", "name": "Câble"}]
    outcome = apply_batch_result(
        batch, {"results": [{"ean": "0000096385074", "status": "created"}]}
    )
    assert outcome.accepted == {"96385074": content_hash(batch[0])}


def test_a_request_that_failed_as_a_whole_marks_none_synced() -> None:
    batch = catalog(3)
    outcome = BatchOutcome.request_failed(batch, "Pixee POST /products/batch failed: HTTP 503")
    assert outcome.accepted == {}
    assert list(outcome.failed) == [p["ean"] for p in batch]


def big_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ids = np.arange(n)
    return pd.DataFrame(
        {
            "ean": pd.array([f"{i:013d}" for i in ids], dtype="str"),
            "name": pd.array([f"Produit {i}" for i in ids], dtype="str"),
            "brand_name": pd.array(np.where(ids % 3 == 0, None, "KIMEX"), dtype="str"),
            "description": pd.array([f"<p>Description {i}</p>" for i in ids], dtype="str"),
            "supplier_code": pd.array(["KIMEX"] * n, dtype="str"),
            "reference": pd.array([f"REF-{i}" for i in ids], dtype="str"),
            "status": pd.array(np.where(ids % 10 == 0, "inactive", "active"), dtype="str"),
            "weight": np.where(ids % 5 == 0, np.nan, rng.uniform(0.1, 30, n)),
            "width": rng.uniform(1, 200, n),
            "height": rng.uniform(1, 200, n),
            "depth": rng.uniform(1, 200, n),
            "external_id": pd.array([f"ERP-{i}" for i in ids], dtype="str"),
        }
    )


def test_plan_over_100k_products_with_1_percent_changed_is_fast() -> None:
    frame = big_frame(100_000)
    synced = synced_map(build_products(frame))
    changed_rows = np.arange(0, 100_000, 100)
    frame.loc[changed_rows, "weight"] = 99.5

    t0 = time.perf_counter()
    products = build_products(frame)
    t1 = time.perf_counter()
    plan = plan_upserts(products, synced)
    t2 = time.perf_counter()

    print(f"\nbuild_products 100k: {t1 - t0:.2f}s, plan_upserts 100k: {t2 - t1:.2f}s")
    assert len(plan.to_send) == 1000
    assert {p["ean"] for p in plan.to_send} == {f"{i:013d}" for i in changed_rows}
    assert t2 - t1 < 5.0
    assert t2 - t0 < 5.0
