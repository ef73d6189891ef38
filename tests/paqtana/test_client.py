"""PaqtanaClient against pytest-httpx: assertions on the requests that crossed the wire."""

from __future__ import annotations

import httpx
import orjson
import pytest
import stamina
from pytest_httpx import HTTPXMock

from pipelines.core.http import RetryPolicy, VendorError
from pipelines.core.paqtana.client import DEFAULT_TIMEOUT, PaqtanaAuthError, PaqtanaClient
from pipelines.core.paqtana.contract import PayloadTooLargeError

BASE = "https://api.paqtana.test"
ORG = "demo-org"
TOKEN = "pqt_secret_token_123"
DEMAND_URL = f"{BASE}/v2/org/{ORG}/historical_demand"
INVENTORY_URL = f"{BASE}/v2/org/{ORG}/master_inventory"
BODY = b'{"data":[{"location":"L1","code":"A","workspaceCode":"WS","dates":["2024-03-04"],"quantities":[1]}]}'  # noqa: E501


@pytest.fixture
def client():
    with PaqtanaClient(BASE, TOKEN, ORG) as paqtana:
        yield paqtana


@pytest.fixture
def no_backoff():
    """Retries happen, sleeps do not: stamina's test mode with room for three attempts."""
    with stamina.set_testing(True, attempts=3):
        yield


def test_put_master_inventory_sends_the_body_with_bearer_auth(
    client: PaqtanaClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="PUT", url=INVENTORY_URL, json={"operation_type": "ok"})

    answer = client.put_master_inventory(BODY)

    [request] = httpx_mock.get_requests()
    assert request.method == "PUT"
    assert str(request.url) == INVENTORY_URL
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == BODY
    assert answer == {"operation_type": "ok"}
    assert client.stats.bytes_sent == len(BODY)


def test_auto_calculate_is_only_in_the_query_when_asked(
    client: PaqtanaClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=DEMAND_URL, json={})
    httpx_mock.add_response(method="POST", url=f"{DEMAND_URL}?auto_calculate=True", json={})

    client.post_historical_demand(BODY, auto_calculate=False)
    client.post_historical_demand(BODY, auto_calculate=True)

    first, last = httpx_mock.get_requests()
    assert first.method == last.method == "POST"
    assert str(first.url) == DEMAND_URL
    assert str(last.url) == f"{DEMAND_URL}?auto_calculate=True"
    assert first.content == last.content == BODY
    assert first.headers["Authorization"] == last.headers["Authorization"] == f"Bearer {TOKEN}"


def test_429_with_retry_after_is_waited_out_then_succeeds(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(
        method="POST", url=DEMAND_URL, status_code=429, headers={"Retry-After": "0.3"}
    )
    httpx_mock.add_response(method="POST", url=DEMAND_URL, json={"accepted": True})
    quick = RetryPolicy(attempts=3, wait_initial_s=0.01, wait_max_s=0.01)

    with PaqtanaClient(BASE, TOKEN, ORG, retry=quick) as client:
        answer = client.post_historical_demand(BODY, auto_calculate=False)

    assert answer == {"accepted": True}
    assert len(httpx_mock.get_requests()) == 2
    assert client.stats.status_counts() == {"429": 1, "200": 1}
    assert client.stats.retries == 1
    assert 0.29 <= client.stats.waited_s < 1.5


def test_401_fails_at_once_saying_the_token_was_refused_without_showing_it(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_response(
        method="PUT",
        url=INVENTORY_URL,
        status_code=401,
        json={"operation_type": "auth", "operation_info": {"validation_error": f"bad {TOKEN}"}},
    )

    with pytest.raises(PaqtanaAuthError) as raised:
        client.put_master_inventory(BODY)

    assert len(httpx_mock.get_requests()) == 1
    message = str(raised.value)
    assert "HTTP 401" in message
    assert "token was refused" in message
    assert f"org/{ORG}/master_inventory" in message
    for shown in (message, repr(raised.value), repr(client), str(vars(raised.value))):
        assert TOKEN not in shown


def test_422_surfaces_the_vendor_validation_error_without_retrying(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_response(
        method="POST",
        url=DEMAND_URL,
        status_code=422,
        json={
            "operation_type": "historical_demand",
            "operation_info": {"validation_error": "data.0.dates.3: invalid date '2024-02-30'"},
        },
    )

    with pytest.raises(VendorError) as raised:
        client.post_historical_demand(BODY, auto_calculate=False)

    assert len(httpx_mock.get_requests()) == 1
    assert raised.value.status == 422
    assert str(raised.value) == (
        f"Paqtana POST v2/org/{ORG}/historical_demand failed: HTTP 422: "
        "operation_type=historical_demand; data.0.dates.3: invalid date '2024-02-30'"
    )


def test_503_twice_then_200_succeeds(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_response(method="POST", url=DEMAND_URL, status_code=503)
    httpx_mock.add_response(method="POST", url=DEMAND_URL, status_code=503)
    httpx_mock.add_response(method="POST", url=DEMAND_URL, json={"ok": 1})

    assert client.post_historical_demand(BODY, auto_calculate=False) == {"ok": 1}
    assert [r.content for r in httpx_mock.get_requests()] == [BODY] * 3
    assert client.stats.status_counts() == {"503": 2, "200": 1}


def test_connection_errors_are_retried(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("refused"), method="PUT", url=INVENTORY_URL)
    httpx_mock.add_response(method="PUT", url=INVENTORY_URL, status_code=204)

    assert client.put_master_inventory(BODY) == {}
    assert client.stats.status_counts() == {"no answer": 1, "204": 1}


def test_a_non_json_error_body_is_quoted_briefly(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_response(
        method="PUT", url=INVENTORY_URL, status_code=400, html="<html>\n<b>Bad request</b></html>"
    )

    with pytest.raises(VendorError, match=r"HTTP 400: <html> <b>Bad request</b></html>$"):
        client.put_master_inventory(BODY)
    assert len(httpx_mock.get_requests()) == 1


def test_413_is_not_retried_and_names_the_body_size(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    httpx_mock.add_response(method="POST", url=f"{DEMAND_URL}?auto_calculate=True", status_code=413)

    with pytest.raises(VendorError, match=f"HTTP 413: body of {len(BODY)} bytes refused"):
        client.post_historical_demand(BODY, auto_calculate=True)
    assert len(httpx_mock.get_requests()) == 1


def test_a_body_over_the_cap_is_refused_before_anything_is_sent(
    httpx_mock: HTTPXMock,
) -> None:
    with (
        PaqtanaClient(BASE, TOKEN, ORG, max_body_bytes=len(BODY) - 1) as client,
        pytest.raises(PayloadTooLargeError, match=f"{len(BODY)} bytes"),
    ):
        client.put_master_inventory(BODY)

    assert httpx_mock.get_requests() == []


def test_workspaces_are_parsed_into_name_code_pairs(
    client: PaqtanaClient, httpx_mock: HTTPXMock
) -> None:
    listing = {
        "operation_type": "workspaces",
        "operation_info": {
            "workspaces_info": {"workspace_codes": [["North", "WS-NORTH"], ["Main", "WS-MAIN"]]}
        },
    }
    httpx_mock.add_response(method="GET", url=f"{BASE}/v2/org/{ORG}/workspaces", json=listing)

    assert client.list_workspaces() == [("North", "WS-NORTH"), ("Main", "WS-MAIN")]
    [request] = httpx_mock.get_requests()
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_an_unexpected_workspaces_answer_is_retried_then_fails_quoting_it(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    url = f"{BASE}/v2/org/{ORG}/workspaces"
    httpx_mock.add_response(method="GET", url=url, json={"x": 1}, is_reusable=True)

    with pytest.raises(VendorError, match="workspaces_info.workspace_codes") as raised:
        client.list_workspaces()
    assert len(httpx_mock.get_requests()) == 3  # retried like a 5xx: a GET is safe to repeat
    assert """the answer began b'{"x":1}'""" in str(raised.value)


def test_a_200_that_is_not_json_is_retried_and_the_second_answer_counts(
    client: PaqtanaClient, httpx_mock: HTTPXMock, no_backoff: None
) -> None:
    url = f"{BASE}/v2/org/{ORG}/master_inventory"
    httpx_mock.add_response(method="PUT", url=url, text="<html>proxy says hi</html>")
    httpx_mock.add_response(method="PUT", url=url, json={"operation_type": "ok"})

    assert client.put_master_inventory(b'{"data":[]}') == {"operation_type": "ok"}
    assert len(httpx_mock.get_requests()) == 2


def test_org_code_is_escaped_into_one_path_segment(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"operation_info": {"workspaces_info": {"workspace_codes": []}}})

    with PaqtanaClient(BASE, TOKEN, "a/../b") as client:
        client.list_workspaces()

    [request] = httpx_mock.get_requests()
    assert request.url.raw_path == b"/v2/org/a%2F..%2Fb/workspaces"


def test_repr_and_defaults_hide_the_token() -> None:
    with PaqtanaClient(BASE, TOKEN, ORG) as client:
        assert repr(client) == f"PaqtanaClient(base_url='{BASE}', org='{ORG}')"
        assert TOKEN not in repr(vars(client))
        assert client.transport.client.timeout == DEFAULT_TIMEOUT == httpx.Timeout(180, connect=5)


def test_a_malformed_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError) as raised:
        PaqtanaClient(BASE, "abc\ndef", ORG)

    assert "abc" not in str(raised.value)


def test_answer_that_is_not_an_object_is_wrapped(
    client: PaqtanaClient, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(method="POST", url=DEMAND_URL, content=orjson.dumps([1, 2]))

    assert client.post_historical_demand(BODY, auto_calculate=False) == {"answer": [1, 2]}
