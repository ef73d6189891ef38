"""Contract of the Pixee imitation: keys and scopes, the envelope, batch and single upserts,
PUT/PATCH, delta paging and the rate limits."""

from __future__ import annotations

import httpx
import pytest

from erp_sandbox import ManualClock, PixeeConfig, Sandbox, SandboxConfig, run_sandbox

from .conftest import PIXEE_KEY, START

EAN_A, EAN_B, EAN_C = "3760000000001", "3760000000002", "3760000000003"
STAMP = "2026-06-19T10:00:00Z"


def assert_error_envelope(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False
    assert body["data"] is None
    assert set(body["meta"]) == {"total", "page", "page_size", "updated_at"}
    assert body["errors"] and all(isinstance(e, str) for e in body["errors"])
    return body["errors"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "pm_live_unknown"}, {"Authorization": f"Bearer {PIXEE_KEY}"}],
    ids=["missing", "unknown", "bearer-only"],
)
def test_requests_without_a_known_api_key_are_401_with_the_envelope(
    sandbox: Sandbox, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{sandbox.pixee_url}/status", headers=headers)

    errors = assert_error_envelope(response, 401)
    assert "X-API-Key" in errors[0]


def test_a_key_without_the_write_scope_is_403_naming_the_scope() -> None:
    keys = {"pm_test_reader": ["ext:products:read"]}
    with run_sandbox(SandboxConfig(pixee=PixeeConfig(api_keys=keys))) as sandbox:
        headers = {"X-API-Key": "pm_test_reader"}
        read = httpx.get(f"{sandbox.pixee_url}/products", headers=headers)
        write = httpx.post(
            f"{sandbox.pixee_url}/products", headers=headers, json={"ean": EAN_A, "name": "A"}
        )

        assert read.status_code == 200
        errors = assert_error_envelope(write, 403)
        assert "ext:products:write" in errors[0]
        assert sandbox.pixee_products() == []


def test_status_reports_the_key_name_and_scopes(pixee: httpx.Client) -> None:
    response = pixee.get("/status")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "status": "ok",
            "version": "1.0",
            "api_key_name": "ERP Sync Sandbox Key",
            "api_key_scopes": ["ext:products:read", "ext:products:write"],
            "timestamp": STAMP,
        },
        "meta": {"total": 1, "page": 1, "page_size": 1, "updated_at": STAMP},
        "errors": [],
    }


def test_unknown_path_and_wrong_method_answer_in_the_envelope(pixee: httpx.Client) -> None:
    assert_error_envelope(pixee.get("/orders"), 404)
    assert_error_envelope(pixee.delete(f"/products/{EAN_A}"), 405)
    assert_error_envelope(pixee.post("/products", content=b"{nope"), 400)


def test_batch_of_501_products_is_422_and_applies_nothing(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    products = [{"ean": f"{i:013d}", "name": f"P{i}"} for i in range(501)]

    response = pixee.post("/products/batch", json={"products": products})

    errors = assert_error_envelope(response, 422)
    assert "500" in errors[0]
    assert sandbox.pixee_products() == []
    ok = pixee.post("/products/batch", json={"products": products[:500]})
    assert ok.json()["data"]["created"] == 500


def test_in_a_batch_a_new_product_without_name_fails_alone(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    pixee.post("/products", json={"ean": EAN_C, "name": "Old C", "weight": 1.0})
    products = [
        {"ean": EAN_A, "name": "A", "brand_name": "KIMEX"},
        {"ean": EAN_B, "brand_name": "KIMEX"},  # new and nameless
        {"ean": "12345", "name": "Bad EAN"},
        {"ean": EAN_C, "weight": 2.5, "name": None},  # existing: only non-null fields apply
    ]

    response = pixee.post("/products/batch", json={"products": products})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert (data["total"], data["created"], data["updated"], data["errors"]) == (4, 1, 1, 2)
    results = data["results"]
    assert [(r["ean"], r["status"]) for r in results] == [
        (EAN_A, "created"),
        (EAN_B, "error"),
        ("12345", "error"),
        (EAN_C, "updated"),
    ]
    assert "name is required" in results[1]["error"]
    assert "8 or 13 digits" in results[2]["error"]
    stored = {p["ean"]: p for p in sandbox.pixee_products()}
    assert set(stored) == {EAN_A, EAN_C}
    assert stored[EAN_A]["id"] == results[0]["id"]
    assert (stored[EAN_C]["name"], stored[EAN_C]["title"], stored[EAN_C]["weight"]) == (
        "Old C",
        "Old C",
        2.5,
    )


def test_single_upsert_creates_then_updates_and_get_returns_the_record(
    pixee: httpx.Client, clock: ManualClock
) -> None:
    created = pixee.post(
        "/products", json={"ean": EAN_A, "name": "Support TV", "status": "active", "weight": 1.5}
    )
    clock.advance(30)
    updated = pixee.post("/products", json={"ean": EAN_A, "weight": 1.6})
    fetched = pixee.get(f"/products/{EAN_A}")

    assert created.json()["data"]["created"] is True
    assert updated.json()["data"]["created"] is False
    assert updated.json()["data"]["id"] == created.json()["data"]["id"]
    record = fetched.json()["data"]
    assert record["title"] == record["name"] == "Support TV"
    assert (record["weight"], record["status"], record["is_active"]) == (1.6, "active", True)
    assert record["created_at"] == STAMP
    assert record["updated_at"] == "2026-06-19T10:00:30Z"
    assert record["brand_name"] is None  # every documented field is present


def test_get_unknown_ean_is_404_with_the_vendor_message(pixee: httpx.Client) -> None:
    errors = assert_error_envelope(pixee.get(f"/products/{EAN_B}"), 404)

    assert errors == [f"Produit avec EAN '{EAN_B}' introuvable."]


def test_put_replaces_writable_fields_and_404s_an_unknown_ean(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    pixee.post("/products", json={"ean": EAN_A, "name": "A", "brand_name": "KIMEX", "weight": 1.5})

    replaced = pixee.put(f"/products/{EAN_A}", json={"ean": EAN_A, "name": "A 2026"})
    missing = pixee.put(f"/products/{EAN_B}", json={"ean": EAN_B, "name": "B"})

    assert replaced.status_code == 200
    record = replaced.json()["data"]
    assert (record["name"], record["brand_name"], record["weight"]) == ("A 2026", None, None)
    assert_error_envelope(missing, 404)
    assert [p["ean"] for p in sandbox.pixee_products()] == [EAN_A]


def test_patch_changes_only_the_given_fields_and_404s_an_unknown_ean(
    pixee: httpx.Client,
) -> None:
    pixee.post(
        "/products",
        json={"ean": EAN_A, "name": "A", "brand_name": "KIMEX", "status": "active", "weight": 1},
    )

    patched = pixee.patch(f"/products/{EAN_A}", json={"status": "inactive", "weight": None})
    missing = pixee.patch(f"/products/{EAN_B}", json={"status": "inactive"})

    record = patched.json()["data"]
    assert (record["status"], record["is_active"]) == ("inactive", False)
    assert (record["name"], record["brand_name"], record["weight"]) == ("A", "KIMEX", 1)
    assert_error_envelope(missing, 404)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"ean": 3760000000001, "name": "A"}, "ean must be a string"),
        ({"ean": EAN_A, "name": "A", "status": "gone"}, "status must be one of"),
        ({"ean": EAN_A, "name": "A", "weight": "1.5"}, "weight must be a number"),
        ({"ean": EAN_A, "name": "A", "colour": "red"}, "unknown product field(s): colour"),
    ],
    ids=["numeric-ean", "bad-status", "text-weight", "unknown-field"],
)
def test_invalid_single_product_is_422(pixee: httpx.Client, payload: dict, reason: str) -> None:
    errors = assert_error_envelope(pixee.post("/products", json=payload), 422)

    assert reason in errors[0]


def test_delta_returns_changes_since_ordered_by_update_then_ean_in_pages(
    pixee: httpx.Client, clock: ManualClock
) -> None:
    pixee.post("/products/batch", json={"products": [{"ean": EAN_C, "name": "C"}]})
    clock.advance(60)  # 10:01:00
    pixee.post(
        "/products/batch",
        json={"products": [{"ean": EAN_B, "name": "B"}, {"ean": EAN_A, "name": "A"}]},
    )
    clock.advance(60)  # 10:02:00
    pixee.patch(f"/products/{EAN_B}", json={"weight": 3})

    def page(number: int) -> dict:
        response = pixee.get(
            "/products/delta",
            params={"since": "2026-06-19T10:01:00Z", "page": number, "page_size": 1},
        )
        assert response.status_code == 200
        return response.json()

    pages = [page(1), page(2), page(3)]

    assert [[p["ean"] for p in body["data"]] for body in pages] == [[EAN_A], [EAN_B], []]
    assert [body["meta"]["total"] for body in pages] == [2, 2, 2]
    assert pages[0]["meta"]["updated_at"] == "2026-06-19T10:02:00Z"
    everything = pixee.get("/products/delta", params={"since": "2026-06-19T09:00:00Z"}).json()
    assert [p["ean"] for p in everything["data"]] == [EAN_C, EAN_A, EAN_B]
    assert everything["meta"]["page_size"] == 100


@pytest.mark.parametrize(
    "params",
    [{}, {"since": "yesterday"}, {"since": "2026-06-19T00:00:00Z", "page_size": 501}],
    ids=["no-since", "bad-since", "page-too-big"],
)
def test_delta_rejects_a_missing_since_or_a_page_over_500(
    pixee: httpx.Client, params: dict
) -> None:
    assert_error_envelope(pixee.get("/products/delta", params=params), 422)


def test_list_filters_by_supplier_and_updated_since_with_paging(
    pixee: httpx.Client, clock: ManualClock
) -> None:
    pixee.post(
        "/products/batch",
        json={
            "products": [
                {"ean": EAN_A, "name": "A", "supplier_code": "KIMEX"},
                {"ean": EAN_B, "name": "B", "supplier_code": "INGRAM"},
            ]
        },
    )
    clock.advance(5)
    pixee.post("/products", json={"ean": EAN_C, "name": "C", "supplier_code": "KIMEX"})

    kimex = pixee.get("/products", params={"supplier_code": "KIMEX"}).json()
    recent = pixee.get("/products", params={"updated_since": STAMP}).json()
    second = pixee.get("/products", params={"page": 2, "page_size": 2}).json()

    assert [p["ean"] for p in kimex["data"]] == [EAN_A, EAN_C]
    assert [p["ean"] for p in recent["data"]] == [EAN_C]  # strictly after
    assert ([p["ean"] for p in second["data"]], second["meta"]["total"]) == ([EAN_C], 3)
    assert second["meta"]["page_size"] == 2


def test_rate_limit_headers_then_429_with_retry_after_until_the_window_slides() -> None:
    clock = ManualClock(START)
    config = SandboxConfig(pixee=PixeeConfig(read_per_minute=3, bulk_per_minute=1))
    with (
        run_sandbox(config, clock=clock) as sandbox,
        httpx.Client(base_url=sandbox.pixee_url, headers={"X-API-Key": PIXEE_KEY}) as client,
    ):
        seen = []
        for _ in range(3):
            response = client.get("/status")
            seen.append((response.status_code, response.headers["X-RateLimit-Remaining"]))
            clock.advance(10)
        limited = client.get("/status")  # at +30 s; the first hit leaves at +60 s
        bulk = client.post("/products/batch", json={"products": []})  # another bucket
        clock.advance(30)
        recovered = client.get("/status")

        assert seen == [(200, "2"), (200, "1"), (200, "0")]
        assert limited.status_code == 429
        assert limited.json() == {"detail": "Rate limit exceeded", "retry_after_seconds": 30}
        assert limited.headers["Retry-After"] == "30"
        assert limited.headers["X-RateLimit-Limit"] == "3"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.headers["X-RateLimit-Reset"] == str(int(START) + 60)
        assert (bulk.status_code, bulk.headers["X-RateLimit-Limit"]) == (200, "1")
        assert recovered.status_code == 200
        assert recovered.headers["X-RateLimit-Remaining"] == "0"
        assert recovered.headers["X-RateLimit-Reset"] == str(int(START) + 70)
