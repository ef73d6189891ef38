from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pandas as pd
import pytest
import stamina
from pytest_httpx import HTTPXMock

from pipelines.core.http import RetryPolicy, VendorError
from pipelines.core.pixee.client import (
    READ_SCOPE,
    WRITE_SCOPE,
    Bucket,
    MissingScopeError,
    PixeeClient,
    ProductNotFoundError,
    RateLimit,
    RatePacer,
    retry_after_seconds,
)
from pipelines.core.pixee.payloads import build_products
from tests.pixee.conftest import API_KEY, BASE_URL, T0, FakeClock
from tests.pixee.test_payloads import GOLDEN_BATCH_BODY

FAST_RETRY = RetryPolicy(attempts=3, total_timeout_s=10, wait_initial_s=0.01, wait_max_s=0.05)


def envelope(data: object, *, success: bool = True, errors: list[str] | None = None, **meta):
    return {
        "success": success,
        "data": data,
        "meta": {"total": 1, "page": 1, "page_size": 1, "updated_at": "2026-06-19T10:00:00Z"}
        | meta,
        "errors": errors or [],
    }


def status_answer(*scopes: str) -> dict:
    return envelope(
        {
            "status": "ok",
            "version": "1.0",
            "api_key_name": "ERP Sync Key",
            "api_key_scopes": list(scopes),
            "timestamp": "2026-06-19T10:00:00Z",
        }
    )


def make_client(**kwargs) -> PixeeClient:
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("pacer", RatePacer(clock=FakeClock().time, sleep=lambda s: None))
    return PixeeClient(BASE_URL, API_KEY, **kwargs)


def wire(httpx_mock: HTTPXMock) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in httpx_mock.get_requests()]


# -- writes and scopes --------------------------------------------------------------------------


def test_batch_request_carries_the_golden_body_and_the_key_header(
    httpx_mock: HTTPXMock, three_products: pd.DataFrame
) -> None:
    results = [{"ean": e, "status": "created", "id": "x"} for e in ("3760000000001", "96385074")]
    results.append({"ean": "4006381333931", "status": "updated", "id": "y"})
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/products/batch",
        json=envelope({"total": 3, "created": 2, "updated": 1, "errors": 0, "results": results}),
    )
    with make_client() as client:
        data = client.batch_upsert(build_products(three_products))

    (request,) = httpx_mock.get_requests()
    assert request.content == GOLDEN_BATCH_BODY
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert data["results"] == results


def test_missing_write_scope_stops_before_any_write(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE_URL}/status", json=status_answer(READ_SCOPE))
    with make_client() as client:
        assert client.require_scopes(READ_SCOPE).name == "ERP Sync Key"
        with pytest.raises(MissingScopeError) as caught:
            client.require_scopes(WRITE_SCOPE)
            client.batch_upsert([{"ean": "3760000000001", "name": "A"}])

    assert str(caught.value) == (
        "Pixee API key 'ERP Sync Key' lacks scope ext:products:write; ask a Pixee admin to add it"
    )
    # One status read, reused for the second check; no write crossed the wire.
    assert wire(httpx_mock) == [("GET", "/api/v1/ext/status")]


def test_key_without_read_scope_cannot_even_list_its_scopes(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/status",
        status_code=403,
        json=envelope(None, success=False, errors=["Scope insuffisant."]),
    )
    with (
        make_client() as client,
        pytest.raises(MissingScopeError, match="lacks scope ext:products:read"),
    ):
        client.require_scopes(READ_SCOPE, WRITE_SCOPE)
    assert len(httpx_mock.get_requests()) == 1


def test_more_than_500_products_are_refused_before_sending(httpx_mock: HTTPXMock) -> None:
    with make_client() as client, pytest.raises(ValueError, match="at most 500"):
        client.batch_upsert([{"ean": f"{i:013d}"} for i in range(501)])
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("GET", lambda c: c.get_product("3760000000009")),
        ("PUT", lambda c: c.put_product("3760000000009", {"name": "B", "status": "active"})),
        ("PATCH", lambda c: c.patch_product("3760000000009", {"status": "inactive"})),
    ],
)
def test_unknown_ean_raises_product_not_found_naming_the_ean(
    httpx_mock: HTTPXMock, method: str, call: Callable[[PixeeClient], object]
) -> None:
    httpx_mock.add_response(
        method=method,
        url=f"{BASE_URL}/products/3760000000009",
        status_code=404,
        json=envelope(
            None, success=False, errors=["Produit avec EAN '3760000000009' introuvable."]
        ),
    )
    with make_client() as client, pytest.raises(ProductNotFoundError) as caught:
        call(client)
    assert caught.value.ean == "3760000000009"
    assert "no product with EAN 3760000000009 in Pixee" in str(caught.value)
    assert "introuvable" in str(caught.value)
    assert len(httpx_mock.get_requests()) == 1  # 404 is not retried


def test_put_sends_the_ean_and_patch_sends_only_the_given_fields(httpx_mock: HTTPXMock) -> None:
    url = f"{BASE_URL}/products/3760000000001"
    httpx_mock.add_response(method="PUT", url=url, json=envelope({"ean": "3760000000001"}))
    httpx_mock.add_response(method="PATCH", url=url, json=envelope({"status": "inactive"}))
    with make_client() as client:
        client.put_product("3760000000001", {"name": "A", "weight": 1.6})
        assert client.patch_product("3760000000001", {"status": "inactive"}) == {
            "status": "inactive"
        }
    put, patch = httpx_mock.get_requests()
    assert orjson.loads(put.content) == {"ean": "3760000000001", "name": "A", "weight": 1.6}
    assert patch.content == b'{"status":"inactive"}'


# -- errors and retries ---------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_and_the_wait_recorded(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/status",
        status_code=429,
        headers={"Retry-After": "0.2"},
        json={"detail": "Rate limit exceeded", "retry_after_seconds": 60},
    )
    httpx_mock.add_response(url=f"{BASE_URL}/status", json=status_answer(READ_SCOPE))
    with make_client() as client:
        assert client.status().scopes == {READ_SCOPE}
        assert [r.status for r in client.stats.requests] == [429, 200]
        assert client.stats.retries == 1
        # The header (0.2 s) wins over the body (60 s), and the wait is in the stats.
        assert 0.2 <= client.stats.waited_s < 2


def test_429_with_only_a_body_retry_after_seconds_is_honoured(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/status",
        status_code=429,
        json={"detail": "Rate limit exceeded", "retry_after_seconds": 0.2},
    )
    httpx_mock.add_response(url=f"{BASE_URL}/status", json=status_answer(READ_SCOPE))
    with make_client() as client:
        client.status()
        assert client.stats.retries == 1
        assert 0.2 <= client.stats.waited_s < 2


def test_retry_after_parser_reads_header_then_body() -> None:
    def answer(headers: dict, body: dict) -> httpx.Response:
        return httpx.Response(429, headers=headers, json=body)

    body = {"detail": "Rate limit exceeded", "retry_after_seconds": 60}
    assert retry_after_seconds(answer({"Retry-After": "30"}, body)) == 30.0
    assert retry_after_seconds(answer({}, body)) == 60.0
    assert retry_after_seconds(answer({"Retry-After": "0"}, {"retry_after_seconds": 0})) is None
    assert retry_after_seconds(httpx.Response(429, text="busy")) is None


def test_401_fails_at_once_and_never_shows_the_key(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/status",
        status_code=401,
        json=envelope(None, success=False, errors=[f"Clé API invalide : {API_KEY}"]),
    )
    with make_client() as client, pytest.raises(VendorError) as caught:
        client.status()
    assert len(httpx_mock.get_requests()) == 1
    message = str(caught.value)
    assert message == "Pixee GET /status failed: HTTP 401: Clé API invalide : ***"
    assert API_KEY not in repr(caught.value)
    assert API_KEY not in repr(client)
    assert repr(client) == f"PixeeClient(base_url='{BASE_URL}', api_key='pm_test_***')"


def test_422_is_not_retried_and_carries_the_validation_message(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/products",
        status_code=422,
        json={"detail": [{"loc": ["body", "weight"], "msg": "must be a number"}]},
    )
    with make_client() as client, pytest.raises(VendorError) as caught:
        client.upsert({"ean": "3760000000001", "weight": "heavy"})
    assert len(httpx_mock.get_requests()) == 1
    assert str(caught.value) == (
        "Pixee POST /products failed: HTTP 422: body.weight: must be a number"
    )


def test_success_false_on_a_200_is_an_error(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/products/batch",
        json=envelope(None, success=False, errors=["Catalogue verrouillé."]),
    )
    with make_client() as client, pytest.raises(VendorError) as caught:
        client.batch_upsert([{"ean": "3760000000001", "name": "A"}])
    assert caught.value.status == 200
    assert "success false: Catalogue verrouillé." in str(caught.value)
    assert len(httpx_mock.get_requests()) == 1


def test_an_answer_that_is_not_the_envelope_is_retried_then_fails_quoting_it(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/products/3760000000001", text="<html>ok</html>", is_reusable=True
    )
    with make_client() as client, pytest.raises(VendorError, match="not the Pixee envelope") as e:
        client.get_product("3760000000001")
    assert len(httpx_mock.get_requests()) == FAST_RETRY.attempts
    assert "the answer began b'<html>ok</html>'" in str(e.value)


# -- delta ----------------------------------------------------------------------------------


def page_of(start: int, count: int) -> list[dict]:
    return [{"ean": f"{i:013d}", "title": f"P{i}"} for i in range(start, start + count)]


def test_delta_reads_three_pages_and_returns_the_first_pages_time_as_cursor(
    httpx_mock: HTTPXMock,
) -> None:
    since = "2026-06-18T00:00:00Z"
    pages = [
        (page_of(0, 500), "10:00:00"),
        (page_of(500, 500), "10:00:04"),
        (page_of(1000, 120), "10:00:09"),
    ]
    for number, (items, at) in enumerate(pages, start=1):
        httpx_mock.add_response(
            url=httpx.URL(
                f"{BASE_URL}/products/delta",
                params={"since": since, "page": str(number), "page_size": "500"},
            ),
            json=envelope(
                items, total=1120, page=number, page_size=500, updated_at=f"2026-06-19T{at}Z"
            ),
        )
    with make_client() as client:
        read = client.delta(since)

    assert read.pages == 3 and read.complete and read.total == 1120
    assert [p["ean"] for p in read.products] == [f"{i:013d}" for i in range(1120)]
    assert read.cursor == "2026-06-19T10:00:00Z"
    assert [r.url.params["page"] for r in httpx_mock.get_requests()] == ["1", "2", "3"]


def test_delta_stops_when_meta_total_is_reached_on_a_full_page(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        json=envelope(page_of(0, 2), total=4, updated_at="2026-06-19T10:00:00Z")
    )
    httpx_mock.add_response(
        json=envelope(page_of(2, 2), total=4, updated_at="2026-06-19T10:00:01Z")
    )
    with make_client() as client:
        read = client.delta("2026-06-18T00:00:00Z", page_size=2)
    assert read.pages == 2 and len(read.products) == 4


def test_delta_with_items_shifted_between_pages_keeps_the_old_cursor(
    httpx_mock: HTTPXMock,
) -> None:
    # Product 1 was edited during the read and moved to the end: product 2 slid onto page 1
    # (already read) and was never seen, so the cursor must not advance.
    httpx_mock.add_response(
        json=envelope(page_of(0, 2), total=4, updated_at="2026-06-19T10:00:00Z")
    )
    moved = [{"ean": "0000000000003", "title": "P3"}, {"ean": "0000000000001", "title": "P1 v2"}]
    httpx_mock.add_response(json=envelope(moved, total=4, updated_at="2026-06-19T10:00:01Z"))
    with make_client() as client:
        read = client.delta("2026-06-18T00:00:00Z", page_size=2)
    assert not read.complete
    assert read.cursor == "2026-06-18T00:00:00Z"
    assert read.duplicates == 1
    assert {p["ean"]: p["title"] for p in read.products}["0000000000001"] == "P1 v2"


# -- pacing ----------------------------------------------------------------------------------


def batch_ok(request: httpx.Request) -> httpx.Response:
    products = orjson.loads(request.content)["products"]
    results = [{"ean": p["ean"], "status": "updated"} for p in products]
    return httpx.Response(200, json=envelope({"total": len(products), "results": results}))


def test_25_batch_calls_never_start_more_than_20_in_any_60s(clock: FakeClock) -> None:
    started: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        started.append(clock.time())
        return batch_ok(request)

    pacer = RatePacer(clock=clock.time, sleep=clock.sleep)
    with make_client(transport=httpx.MockTransport(handler), pacer=pacer) as client:
        for i in range(25):
            client.batch_upsert([{"ean": f"{i:013d}", "name": "A"}])

        assert len(started) == 25
        busiest = max(sum(1 for t in started if s <= t < s + 60) for s in started)
        assert busiest == 20
        assert started[20] - started[0] >= 60
        # 60 s window + 1 s margin (the transport adds its own few ms of real overhead)
        assert client.stats.waited_s == pytest.approx(61.0, abs=0.5)
        assert pacer.waited_s == pytest.approx(61.0)


def test_reads_and_writes_do_not_wait_for_the_bulk_window(clock: FakeClock) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batch"):
            return batch_ok(request)
        return httpx.Response(200, json=envelope({"ean": "3760000000001"}))

    pacer = RatePacer(clock=clock.time, sleep=clock.sleep)
    with make_client(transport=httpx.MockTransport(handler), pacer=pacer) as client:
        for i in range(20):
            client.batch_upsert([{"ean": f"{i:013d}"}])
        client.get_product("3760000000001")
        client.patch_product("3760000000001", {"status": "active"})
    assert clock.now == T0


def test_remaining_zero_holds_the_bucket_until_reset(clock: FakeClock) -> None:
    started: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        started.append(clock.time())
        headers = {"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0"}
        headers["X-RateLimit-Reset"] = str(int(clock.time()) + 30)
        return httpx.Response(200, headers=headers, json=envelope({"ean": "3760000000001"}))

    pacer = RatePacer(clock=clock.time, sleep=clock.sleep)
    with make_client(transport=httpx.MockTransport(handler), pacer=pacer) as client:
        client.get_product("3760000000001")
        client.get_product("3760000000001")
        assert started == [T0, T0 + 30]
        assert client.stats.waited_s == pytest.approx(30.0, abs=0.5)


def test_a_retried_attempt_counts_in_the_window(clock: FakeClock) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            return httpx.Response(503, json=envelope(None, success=False, errors=["Indisponible"]))
        return batch_ok(request)

    pacer = RatePacer({Bucket.BULK: RateLimit(3)}, clock=clock.time, sleep=clock.sleep)
    with (
        stamina.set_testing(True, attempts=3),
        make_client(transport=httpx.MockTransport(handler), pacer=pacer) as client,
    ):
        client.batch_upsert([{"ean": "3760000000001"}])  # 503 then 200: two starts
        client.batch_upsert([{"ean": "3760000000001"}])  # third start, still free
        assert clock.now == T0
        client.batch_upsert([{"ean": "3760000000001"}])  # fourth start must wait
        assert clock.now - T0 == pytest.approx(61.0)
    assert len(calls) == 4
