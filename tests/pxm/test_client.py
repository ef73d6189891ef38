from __future__ import annotations

import httpx
import orjson
import pytest
import stamina

from pipelines.core.http import RetryPolicy, VendorError
from pipelines.core.pxm.client import (
    ATTRIBUTE_ENDPOINT,
    CATEGORY_ENDPOINT,
    COLLECTION_ENDPOINT,
    TOKEN_ENDPOINT,
    PxmAuthError,
    PxmClient,
)
from tests.pxm.conftest import (
    BASE_URL,
    BASIC_HEADER,
    CLIENT_ID,
    CLIENT_SECRET,
    FakePxm,
    collection,
)

FAST_RETRY = RetryPolicy(attempts=3, total_timeout_s=10, wait_initial_s=0.01, wait_max_s=0.05)
TOKEN = ("POST", TOKEN_ENDPOINT)
COLLECTIONS = ("GET", COLLECTION_ENDPOINT)


def make_client(fake: FakePxm, **kwargs) -> PxmClient:
    kwargs.setdefault("retry", FAST_RETRY)
    return PxmClient(
        BASE_URL, CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(fake), **kwargs
    )


def assert_no_credential(text: str, fake: FakePxm) -> None:
    assert CLIENT_SECRET not in text
    assert BASIC_HEADER.removeprefix("Basic ") not in text
    for token in fake.issued:
        assert token not in text


# -- token flow ---------------------------------------------------------------------------------


def test_first_request_fetches_a_token_with_basic_auth_and_the_json_grant_body(
    fake: FakePxm,
) -> None:
    with make_client(fake) as client:
        client.categories()
    token_request, api_request = fake.requests
    assert fake.authorization == [BASIC_HEADER, "Bearer tok-1-abcdef"]
    assert (token_request.method, token_request.url) == ("POST", f"{BASE_URL}{TOKEN_ENDPOINT}")
    assert token_request.headers["Authorization"] == BASIC_HEADER
    assert token_request.headers["Content-Type"] == "application/json"
    assert orjson.loads(token_request.content) == {"grant_type": "client_credentials"}
    assert api_request.url.path == CATEGORY_ENDPOINT
    assert api_request.headers["Authorization"] == "Bearer tok-1-abcdef"


def test_the_token_is_reused_for_the_whole_read(fake: FakePxm) -> None:
    with make_client(fake) as client:
        read = client.read_catalog()
    assert read.token_fetches == 1
    assert fake.wire().count(TOKEN) == 1
    api = fake.api_authorization()
    assert len(api) == 5
    assert set(api) == {"Bearer tok-1-abcdef"}


def test_401_mid_run_fetches_exactly_one_new_token_and_replays_the_request(
    fake: FakePxm,
) -> None:
    fake.revoke_after_api_calls = 1  # the token dies after the first page
    with make_client(fake) as client:
        ids = [c["id"] for c in client.iter_collections()]
        assert client.token_fetches == 2
    assert ids == list(range(1, 1204))
    assert fake.wire() == [TOKEN, COLLECTIONS, COLLECTIONS, TOKEN, COLLECTIONS, COLLECTIONS]
    assert fake.offsets(COLLECTION_ENDPOINT) == [0, 500, 500, 1000]
    assert fake.api_authorization() == [
        "Bearer tok-1-abcdef",
        "Bearer tok-1-abcdef",
        "Bearer tok-2-abcdef",
        "Bearer tok-2-abcdef",
    ]


def test_a_second_401_fails_clearly_without_the_secret_or_the_token(fake: FakePxm) -> None:
    fake.refuse_all_tokens = True
    with make_client(fake) as client, pytest.raises(PxmAuthError) as raised:
        client.categories()
    message = str(raised.value)
    assert "PXM refused a freshly issued token" in message
    assert CATEGORY_ENDPOINT in message
    assert raised.value.status == 401
    # One refresh, then give up: no retry loop on 401.
    assert fake.wire() == [TOKEN, ("GET", CATEGORY_ENDPOINT), TOKEN, ("GET", CATEGORY_ENDPOINT)]
    assert len(fake.issued) == 2
    assert_no_credential(message, fake)


@pytest.mark.parametrize("status", [400, 401])
def test_refused_client_credentials_fail_at_the_token_endpoint(status: int) -> None:
    fake = FakePxm()
    fake.script("POST", TOKEN_ENDPOINT, httpx.Response(status, json={"error": "invalid_client"}))
    with make_client(fake) as client, pytest.raises(PxmAuthError) as raised:
        client.categories()
    message = str(raised.value)
    assert TOKEN_ENDPOINT in message
    assert "client id/secret were refused" in message
    assert f"HTTP {status}" in message
    assert fake.wire() == [TOKEN]  # not retried, and the API was never called
    assert_no_credential(message, fake)


def test_a_token_answer_without_access_token_fails_without_quoting_it() -> None:
    fake = FakePxm()
    fake.script("POST", TOKEN_ENDPOINT, httpx.Response(200, json={"token": "leaky-123"}))
    with make_client(fake) as client, pytest.raises(PxmAuthError) as raised:
        client.categories()
    assert "no access_token" in str(raised.value)
    assert "leaky-123" not in str(raised.value)


def test_reprs_show_no_credential(fake: FakePxm) -> None:
    with make_client(fake) as client:
        client.categories()
        texts = [repr(client), repr(client._auth), repr(client.stats)]
    for text in texts:
        assert_no_credential(text, fake)
        assert CLIENT_ID not in text


def test_the_token_call_is_in_the_call_records(fake: FakePxm) -> None:
    with make_client(fake) as client:
        client.categories()
        records = [(r.method, r.endpoint, r.status) for r in client.stats.requests]
    assert records == [("POST", TOKEN_ENDPOINT, 200), ("GET", CATEGORY_ENDPOINT, 200)]


# -- paging -------------------------------------------------------------------------------------


def test_1203_collections_are_read_in_three_pages_of_500(fake: FakePxm) -> None:
    with make_client(fake) as client:
        read = client.read_catalog()
    assert len(read.collections) == 1203
    assert read.collections[0] == collection(1)
    assert read.collections[-1]["id"] == 1203
    assert fake.offsets(COLLECTION_ENDPOINT) == [0, 500, 1000]
    limits = {r.url.params["limit"] for r in fake.requests if r.method == "GET"}
    assert limits == {"500"}
    assert read.pages == {COLLECTION_ENDPOINT: 3, CATEGORY_ENDPOINT: 1, ATTRIBUTE_ENDPOINT: 1}
    assert read.categories == [{"id": 1, "name": "TV", "parent_id": None}]
    assert read.attributes == [{"id": 7, "label": "EAN"}]
    assert read.duration_s >= 0


def test_a_full_last_page_stops_at_total_without_an_empty_read() -> None:
    fake = FakePxm(collections=[collection(n) for n in range(1000)])
    with make_client(fake) as client:
        assert len(list(client.iter_collections())) == 1000
    assert fake.offsets(COLLECTION_ENDPOINT) == [0, 500]


@pytest.mark.parametrize(("count", "offsets"), [(7, [0, 3, 6]), (6, [0, 3, 6])])
def test_a_bare_list_answer_pages_until_a_short_page(count: int, offsets: list[int]) -> None:
    fake = FakePxm(collections=[collection(n) for n in range(count)], bare_list=True)
    with make_client(fake, page_size=3) as client:
        assert [c["id"] for c in client.iter_collections()] == list(range(count))
    assert fake.offsets(COLLECTION_ENDPOINT) == offsets


def test_a_page_capped_below_our_limit_is_not_taken_for_the_last_page() -> None:
    fake = FakePxm(collections=[collection(n) for n in range(250)], page_cap=100, with_total=False)
    with make_client(fake) as client:
        assert len(list(client.iter_collections())) == 250
    assert fake.offsets(COLLECTION_ENDPOINT) == [0, 100, 200]


def test_an_endpoint_that_ignores_offset_fails_instead_of_looping() -> None:
    fake = FakePxm()
    same_page = orjson.dumps([collection(n) for n in range(3)])
    fake.script("GET", COLLECTION_ENDPOINT, *[httpx.Response(200, content=same_page)] * 2)
    with make_client(fake, page_size=3) as client, pytest.raises(VendorError) as raised:
        list(client.iter_collections())
    assert "offset 3 returned the previous page again" in str(raised.value)


def test_an_answer_that_is_not_a_list_is_retried_and_one_that_stays_wrong_fails() -> None:
    fake = FakePxm(categories=[{"id": 1, "name": "Shoes"}])
    fake.script("GET", CATEGORY_ENDPOINT, httpx.Response(200, json={"items": []}))
    with make_client(fake) as client:
        assert client.categories() == [{"id": 1, "name": "Shoes"}]  # the retry read a good page
    wrong = [httpx.Response(200, json={"items": []}) for _ in range(FAST_RETRY.attempts)]
    fake.script("GET", CATEGORY_ENDPOINT, *wrong)
    with make_client(fake) as client, pytest.raises(VendorError) as raised:
        client.categories()
    assert CATEGORY_ENDPOINT in str(raised.value)
    assert "neither {data: [objects]" in str(raised.value)
    assert """the answer began b'{"items":[]}'""" in str(raised.value)


# -- retries ------------------------------------------------------------------------------------


def test_503_is_retried_and_the_read_completes(fake: FakePxm) -> None:
    fake.script("GET", CATEGORY_ENDPOINT, httpx.Response(503, text="maintenance"))
    with stamina.set_testing(True, attempts=3), make_client(fake) as client:
        assert client.categories() == [{"id": 1, "name": "TV", "parent_id": None}]
        statuses = [(r.endpoint, r.status, r.attempt) for r in client.stats.requests]
    assert statuses == [
        (TOKEN_ENDPOINT, 200, 1),
        (CATEGORY_ENDPOINT, 503, 1),
        (CATEGORY_ENDPOINT, 200, 2),
    ]
    assert client.token_fetches == 1


def test_a_503_on_the_token_endpoint_is_retried(fake: FakePxm) -> None:
    fake.script("POST", TOKEN_ENDPOINT, httpx.Response(503))
    with stamina.set_testing(True, attempts=3), make_client(fake) as client:
        client.categories()
    assert fake.wire() == [TOKEN, TOKEN, ("GET", CATEGORY_ENDPOINT)]


def test_a_token_endpoint_asking_to_come_back_in_an_hour_is_not_called_again(
    fake: FakePxm,
) -> None:
    fake.script("POST", TOKEN_ENDPOINT, httpx.Response(503, headers={"Retry-After": "3600"}))
    with make_client(fake) as client, pytest.raises(VendorError) as raised:
        client.categories()
    assert str(raised.value) == (
        "PXM POST /v2.1/oauth/authorize failed: HTTP 503: asked to wait 3600s, more than the "
        "300s this client waits"
    )
    assert fake.wire() == [TOKEN]


def test_429_waits_the_retry_after_seconds(fake: FakePxm) -> None:
    fake.script(
        "GET", CATEGORY_ENDPOINT, httpx.Response(429, headers={"Retry-After": "0.3"}, json={})
    )
    # The policy's own first wait is 0.01 s: a wait of 0.3 s or more can only come from the header.
    with make_client(fake) as client:
        client.categories()
        assert client.stats.retries == 1
        assert 0.3 <= client.stats.waited_s < 2
    assert fake.wire() == [TOKEN, ("GET", CATEGORY_ENDPOINT), ("GET", CATEGORY_ENDPOINT)]


def test_a_404_is_not_retried_and_carries_pxm_message(fake: FakePxm) -> None:
    fake.script("GET", CATEGORY_ENDPOINT, httpx.Response(404, json={"message": "no such route"}))
    with make_client(fake) as client, pytest.raises(VendorError) as raised:
        client.categories()
    assert str(raised.value) == "PXM GET /v2.1/category failed: HTTP 404: no such route"
    assert fake.wire() == [TOKEN, ("GET", CATEGORY_ENDPOINT)]


def test_an_error_message_that_echoes_the_token_is_masked(fake: FakePxm) -> None:
    fake.script(
        "GET",
        CATEGORY_ENDPOINT,
        httpx.Response(403, json={"message": "token tok-1-abcdef may not read categories"}),
    )
    with make_client(fake) as client, pytest.raises(VendorError) as raised:
        client.categories()
    assert str(raised.value).endswith("HTTP 403: token *** may not read categories")
