"""Read-only HTTP client for Pattern PXM (Amplifi, `https://entapi.amplifi.io`), built on the
shared VendorTransport.

It gets an OAuth 2.0 client-credentials token, reads collections (products), categories and
attributes page by page, and returns them as one `CatalogRead` for the local cache: the vendor
asks for at most one read a day and for consumers to read a local copy, never PXM directly.

There is deliberately NO write method: PXM's write schema is not public, so nothing here can
build a write body that we could test against a documented shape.

The client id, the secret, the Basic header and the access token never reach an error message,
a repr or the call records. Not thread-safe: one client per run.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from pipelines.core.http import (
    RequestRecord,
    RetryPolicy,
    UnreadableAnswer,
    VendorClient,
    VendorError,
    VendorTransport,
    parse_retry_after,
    wait_too_long,
)

VENDOR = "PXM"
DEFAULT_BASE_URL = "https://entapi.amplifi.io"
DEFAULT_TIMEOUT = httpx.Timeout(60, connect=5)
TOKEN_ENDPOINT = "/v2.1/oauth/authorize"
COLLECTION_ENDPOINT = "/v2.1/collection"
CATEGORY_ENDPOINT = "/v2.1/category"
ATTRIBUTE_ENDPOINT = "/v2.1/attribute"
DEFAULT_PAGE_SIZE = 500
# A read that is still paging after this many pages is taken as PXM ignoring `offset`.
MAX_PAGES = 10_000

# Token answers that mean "these credentials are wrong", as opposed to "try again later".
_REFUSED_CREDENTIAL_STATUSES = frozenset({400, 401, 403})


class PxmAuthError(VendorError):
    """PXM refused the credentials or a token it had just issued. Never retried; the message
    says what to check and holds no secret, token or Authorization header."""


@dataclass(frozen=True)
class ListPage:
    items: list[dict[str, Any]]
    total: int | None
    limit: int | None


def parse_list_page(body: Any) -> ListPage | None:
    """ASSUMPTION (not on the vendor page; the list answer shape is not public): a list answer
    is `{"data": [...], "total": N, "limit": L, "offset": O}` or a bare JSON list. This is the
    one place that knows it. Returns None for anything else (the caller raises)."""
    if isinstance(body, list):
        items, total, limit = body, None, None
    elif isinstance(body, dict) and isinstance(body.get("data"), list):
        items, total, limit = body["data"], body.get("total"), body.get("limit")
    else:
        return None
    if not all(isinstance(item, dict) for item in items):
        return None
    return ListPage(items=items, total=_count_or_none(total), limit=_count_or_none(limit))


def _count_or_none(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def error_detail(response: httpx.Response) -> str | None:
    """PXM's explanation of a non-2xx answer. ASSUMPTION: the error shape is not public, so
    common JSON keys are tried, then a short excerpt of the text."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return " ".join(response.text.split())[:300] or None
    if isinstance(body, dict):
        for key in ("message", "error_description", "detail", "error", "errors"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:300]
            if isinstance(value, list) and value:
                return "; ".join(str(v) for v in value)[:300]
    return None


# Called after each token call with (status, bytes sent, seconds), so CallStats shows it.
TokenCallHook = Callable[[int, int, float], None]


class ClientCredentialsAuth(httpx.Auth):
    """OAuth 2.0 client credentials for PXM as an httpx auth flow.

    The first request fetches a token (`POST {base}/v2.1/oauth/authorize`, Basic auth, JSON
    `{"grant_type": "client_credentials"}`); the token is kept for the client's life. A 401 on
    an API call fetches a new token once and replays the request; if the replay is refused too,
    the 401 is returned for the client to report.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        on_token_call: TokenCallHook | None = None,
        max_retry_after_s: float = RetryPolicy.max_retry_after_s,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("PXM client id and client secret must both be set")
        self.token_url = token_url
        raw = f"{client_id}:{client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self._secret = client_secret
        self._token: str | None = None
        self._on_token_call = on_token_call
        self.max_retry_after_s = max_retry_after_s
        self.token_fetches = 0

    def __repr__(self) -> str:
        return (
            f"ClientCredentialsAuth(token_url={self.token_url!r}, "
            f"token_fetches={self.token_fetches})"
        )

    def redact(self, text: str) -> str:
        """`text` with the secret, the Basic credentials and the current token masked, in case
        PXM echoes one of them in an error message."""
        for secret in (self._secret, self._basic.removeprefix("Basic "), self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._token is None:
            self._token = yield from self._fetch_token()
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code != 401:
            return
        # Forget the refused token first: if the refresh fails and the transport retries,
        # the retry starts with a token fetch instead of another 401.
        self._token = None
        self._token = yield from self._fetch_token()
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, str]:
        body = orjson.dumps({"grant_type": "client_credentials"})
        token_request = httpx.Request(
            "POST",
            self.token_url,
            headers={
                "Authorization": self._basic,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "erp-sync",
            },
            content=body,
        )
        self.token_fetches += 1
        started = time.monotonic()
        response = yield token_request
        if self._on_token_call is not None:
            self._on_token_call(response.status_code, len(body), time.monotonic() - started)
        status = response.status_code
        if status in _REFUSED_CREDENTIAL_STATUSES:
            raise PxmAuthError(
                VENDOR,
                "POST",
                TOKEN_ENDPOINT,
                status,
                "the client id/secret were refused; check the Client ID and Client Secret "
                "registered in PXM (Settings > System > Integrations, Super Admin only)",
            )
        if not response.is_success:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after_s:
                # the same rule as every other call (VendorTransport): no retry within seconds
                raise wait_too_long(
                    VENDOR, "POST", TOKEN_ENDPOINT, status, retry_after, self.max_retry_after_s
                )
            detail = error_detail(response)
            raise VendorError(
                VENDOR,
                "POST",
                TOKEN_ENDPOINT,
                status,
                self.redact(detail) if detail else None,
                retry_after,
            )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            # The answer is not quoted: it may hold a token under another name.
            raise PxmAuthError(
                VENDOR, "POST", TOKEN_ENDPOINT, status, "token answer has no access_token"
            )
        return token


@dataclass
class CatalogRead:
    """One full read of the PXM catalog; what the cache stores."""

    collections: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    attributes: list[dict[str, Any]]
    # Pages read per endpoint, e.g. {"/v2.1/collection": 3}.
    pages: dict[str, int]
    token_fetches: int
    duration_s: float
    read_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _list_page(response: httpx.Response) -> ListPage:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise UnreadableAnswer("answer is not JSON") from None
    page = parse_list_page(body)
    if page is None:
        raise UnreadableAnswer(
            "answer is neither {data: [objects], total, limit, offset} nor a list of objects"
        )
    return page


class PxmClient(VendorClient):
    """Paged reads of PXM's catalog. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.pages: dict[str, int] = {}
        retry = retry or RetryPolicy()
        self._auth = ClientCredentialsAuth(
            self.base_url + TOKEN_ENDPOINT,
            client_id,
            client_secret,
            on_token_call=self._record_token_call,
            max_retry_after_s=retry.max_retry_after_s,
        )
        http = httpx.Client(
            base_url=self.base_url,
            auth=self._auth,
            headers={"Accept": "application/json", "User-Agent": "erp-sync"},
            timeout=timeout,
            transport=transport,
        )
        self.transport = VendorTransport(VENDOR, http, retry=retry, detail_parser=self._detail)

    def __repr__(self) -> str:
        return f"PxmClient(base_url={self.base_url!r})"

    @property
    def token_fetches(self) -> int:
        return self._auth.token_fetches

    # -- reads ------------------------------------------------------------------------------

    def read_all(
        self, endpoint: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paged list endpoint, reading with `limit`/`offset` until a page is
        shorter than the limit, or empty, or `total` items were read."""
        offset = 0
        read = 0
        pages = 0
        first_of_previous_page: dict[str, Any] | None = None
        while True:
            query = {**(params or {}), "limit": str(self.page_size), "offset": str(offset)}
            page = self._get_page(endpoint, query)
            pages += 1
            self.pages[endpoint] = self.pages.get(endpoint, 0) + 1
            if page.items and page.items[0] == first_of_previous_page:
                raise VendorError(
                    VENDOR,
                    "GET",
                    endpoint,
                    200,
                    f"offset {offset} returned the previous page again",
                )
            yield from page.items
            read += len(page.items)
            offset += len(page.items)
            # PXM may cap the page below what we asked; its own `limit` then decides "short".
            limit = page.limit or self.page_size
            if not page.items or (page.total is not None and read >= page.total):
                return
            if page.total is None and len(page.items) < limit:
                return
            if pages >= MAX_PAGES:
                raise VendorError(
                    VENDOR, "GET", endpoint, 200, f"still had pages after {MAX_PAGES}"
                )
            first_of_previous_page = page.items[0]

    def iter_collections(self, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every collection (product), with its `attributes[{id, label, value}]`."""
        return self.read_all(COLLECTION_ENDPOINT, params)

    def categories(self) -> list[dict[str, Any]]:
        return list(self.read_all(CATEGORY_ENDPOINT))

    def attributes(self) -> list[dict[str, Any]]:
        return list(self.read_all(ATTRIBUTE_ENDPOINT))

    def read_catalog(self) -> CatalogRead:
        """The daily read: collections, categories and attributes in one go."""
        read_at = datetime.now(UTC)
        started = time.monotonic()
        fetches_before = self.token_fetches
        pages_before = dict(self.pages)
        collections = list(self.iter_collections())
        categories = self.categories()
        attributes = self.attributes()
        return CatalogRead(
            collections=collections,
            categories=categories,
            attributes=attributes,
            pages={
                endpoint: count - pages_before.get(endpoint, 0)
                for endpoint, count in self.pages.items()
                if count - pages_before.get(endpoint, 0) > 0
            },
            token_fetches=self.token_fetches - fetches_before,
            duration_s=time.monotonic() - started,
            read_at=read_at,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _get_page(self, endpoint: str, params: dict[str, str]) -> ListPage:
        try:
            return self.transport.request(
                "GET", endpoint, params=params, read=_list_page, safe_to_repeat=True
            )
        except PxmAuthError:
            raise
        except VendorError as exc:
            if exc.status == 401:
                # The auth flow already fetched a new token and replayed once.
                raise PxmAuthError(
                    VENDOR,
                    "GET",
                    endpoint,
                    401,
                    "PXM refused a freshly issued token (fetched after a first 401); check "
                    "that the registered application may read this endpoint"
                    + (f" ({exc.detail})" if exc.detail else ""),
                ) from None
            raise

    def _detail(self, response: httpx.Response) -> str | None:
        detail = error_detail(response)
        return self._auth.redact(detail) if detail else None

    def _record_token_call(self, status: int, bytes_sent: int, seconds: float) -> None:
        self.transport.stats.requests.append(
            RequestRecord("POST", TOKEN_ENDPOINT, status, bytes_sent, seconds, attempt=1)
        )
