"""HTTP client for Pixee PIM's External API (`/api/v1/ext`), built on the shared VendorTransport.

It unwraps Pixee's `{success, data, meta, errors}` envelope (a 2xx with `success: false` is an
error), checks the key's scopes before a run reads or writes, paces requests under the documented
per-key limits, and never lets the API key reach an error, a repr or a log line.
Not thread-safe: one client per run (or per thread).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from pipelines.core.http import (
    RetryPolicy,
    UnreadableAnswer,
    VendorClient,
    VendorError,
    VendorTransport,
)
from pipelines.core.http import parse_retry_after as parse_retry_after_header
from pipelines.core.pixee.payloads import MAX_BATCH, batch_body

VENDOR = "Pixee"
DEFAULT_BASE_URL = "https://api.pixeepim.com/api/v1/ext"
DEFAULT_TIMEOUT = httpx.Timeout(60, connect=5)
READ_SCOPE = "ext:products:read"
WRITE_SCOPE = "ext:products:write"
# Vendor page: delta and list pages hold at most 500 items.
MAX_PAGE_SIZE = 500


class Bucket(StrEnum):
    """Pixee's rate-limit windows that this client uses (vendor rate-limiting page)."""

    READ = "read"
    WRITE = "write"
    BULK = "bulk"


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_s: float = 60.0


# Vendor page: reads 1,000/min, writes 100/min, bulk create 20/min, bulk update 30/min. A batch
# upsert may create and update, so it gets the lower bulk limit. ASSUMPTION: a batch call counts
# in the bulk window only, not also in the writes window.
DEFAULT_RATE_LIMITS: Mapping[Bucket, RateLimit] = {
    Bucket.READ: RateLimit(1000),
    Bucket.WRITE: RateLimit(100),
    Bucket.BULK: RateLimit(20),
}


def bucket_for(method: str, path: str) -> Bucket:
    """Which rate-limit window a request counts in."""
    if method.upper() == "GET":
        return Bucket.READ
    if method.upper() == "POST" and path.rstrip("/").endswith("/products/batch"):
        return Bucket.BULK
    return Bucket.WRITE


class RatePacer:
    """Client-side sliding windows, one per bucket, so a run stays under Pixee's limits instead
    of learning them from 429s. It also obeys `X-RateLimit-Remaining: 0` by holding that bucket
    until `X-RateLimit-Reset`. Clock and sleep are injectable so tests do not really wait."""

    def __init__(
        self,
        limits: Mapping[Bucket, RateLimit] = DEFAULT_RATE_LIMITS,
        *,
        # Our send time and Pixee's arrival time differ by network latency: keep a safety gap.
        margin_s: float = 1.0,
        # A reset further away than this is taken as a broken header; the windows are one minute.
        max_reset_wait_s: float = 90.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits)
        self.margin_s = margin_s
        self.max_reset_wait_s = max_reset_wait_s
        self.clock = clock
        self.sleep = sleep
        self.waited_s = 0.0
        self._starts: dict[Bucket, deque[float]] = {b: deque() for b in self.limits}
        self._blocked_until: dict[Bucket, float] = {}

    def acquire(self, bucket: Bucket) -> float:
        """Wait until a request of `bucket` may start, count it as started, and return the
        seconds waited."""
        started = self.clock()
        while (delay := self._delay(bucket, self.clock())) > 0:
            self.sleep(delay)
        waited = self.clock() - started
        self.waited_s += waited
        self.record(bucket)
        return waited

    def record(self, bucket: Bucket) -> None:
        """Count a request that started without asking (a retry inside the transport)."""
        if bucket in self._starts:
            self._starts[bucket].append(self.clock())

    def observe(self, bucket: Bucket, headers: Mapping[str, str]) -> None:
        """Read Pixee's rate-limit headers from any answer of `bucket`."""
        remaining = _to_float(headers.get("X-RateLimit-Remaining"))
        reset = _to_float(headers.get("X-RateLimit-Reset"))
        if remaining is None or remaining > 0 or reset is None:
            return
        now = self.clock()
        # Documented as unix seconds; a small number can only be "seconds from now".
        reset_at = reset if reset > 1e9 else now + reset
        hold_until = min(reset_at, now + self.max_reset_wait_s)
        if hold_until > now:
            self._blocked_until[bucket] = max(self._blocked_until.get(bucket, 0.0), hold_until)

    def _delay(self, bucket: Bucket, now: float) -> float:
        delay = self._blocked_until.get(bucket, 0.0) - now
        limit = self.limits.get(bucket)
        if limit is not None:
            starts = self._starts[bucket]
            span = limit.window_s + self.margin_s
            while starts and starts[0] <= now - span:
                starts.popleft()
            if len(starts) >= limit.requests:
                delay = max(delay, starts[0] + span - now)
        return delay


def _to_float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class MissingScopeError(Exception):
    """The API key lacks a scope the run needs; raised before the first request that needs it."""

    def __init__(self, key_name: str | None, missing: Iterable[str], why: str = "") -> None:
        self.key_name = key_name
        self.missing = tuple(missing)
        key = f"Pixee API key '{key_name}'" if key_name else "The Pixee API key"
        noun = "scope" if len(self.missing) == 1 else "scopes"
        super().__init__(
            f"{key} lacks {noun} {', '.join(self.missing)}"
            + (f" ({why})" if why else "")
            + "; ask a Pixee admin to add it"
        )


class ProductNotFoundError(VendorError):
    """GET/PUT/PATCH on an EAN that Pixee does not have (PUT and PATCH never create)."""

    def __init__(self, ean: str, method: str, endpoint: str, detail: str | None) -> None:
        self.ean = ean
        super().__init__(
            VENDOR,
            method,
            endpoint,
            404,
            f"no product with EAN {ean} in Pixee" + (f" ({detail})" if detail else ""),
        )


@dataclass(frozen=True)
class KeyStatus:
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class DeltaRead:
    """Products changed since a cursor. `cursor` is what to pass as `since` next time: the
    first page's `meta.updated_at` when the read looks complete, else the old `since`, so a
    product can be read twice but never skipped."""

    products: list[dict[str, Any]]
    pages: int
    cursor: str
    complete: bool
    total: int | None = None
    duplicates: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProductList:
    """Every product Pixee holds, as one paged read returned them."""

    products: list[dict[str, Any]]
    pages: int
    complete: bool
    total: int | None = None


@dataclass(frozen=True)
class _Pages:
    products: list[dict[str, Any]]  # one per EAN
    count: int
    first_meta: dict[str, Any]
    total: int | None
    duplicates: int

    @property
    def complete(self) -> bool:
        return self.total is None or len(self.products) >= self.total


class PixeeClient(VendorClient):
    """Pixee External API calls. Callers check scopes first: `require_scopes(WRITE_SCOPE)` before
    any write, `require_scopes(READ_SCOPE)` before any read."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: RatePacer | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("Pixee API key is empty")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.pacer = pacer or RatePacer()
        self._key_status: KeyStatus | None = None
        # The pacer already counted the first attempt of the current call; retries inside
        # VendorTransport are counted by the request hook.
        self._slot_reserved = False
        http = httpx.Client(
            base_url=self.base_url,
            headers={
                "X-API-Key": api_key,
                "Accept": "application/json",
                "User-Agent": "erp-sync",
            },
            timeout=timeout,
            transport=transport,
            event_hooks={"request": [self._on_request], "response": [self._on_response]},
        )
        self.transport = VendorTransport(
            VENDOR,
            http,
            retry=retry,
            detail_parser=self._error_detail,
            retry_after_parser=retry_after_seconds,
        )

    def __repr__(self) -> str:
        return f"PixeeClient(base_url={self.base_url!r}, api_key={_masked(self._api_key)!r})"

    # -- scopes -----------------------------------------------------------------------------

    def status(self) -> KeyStatus:
        """The key's name and scopes (GET /status, which itself needs the read scope)."""
        try:
            data, _ = self._call("GET", "/status")
        except VendorError as exc:
            if exc.status == 403:
                raise MissingScopeError(
                    None, [READ_SCOPE], "GET /status needs it to list the key's scopes"
                ) from None
            raise
        if not isinstance(data, Mapping) or not isinstance(data.get("api_key_scopes"), list):
            raise VendorError(VENDOR, "GET", "/status", 200, "answer has no api_key_scopes list")
        self._key_status = KeyStatus(
            name=str(data.get("api_key_name") or "unnamed"),
            scopes=frozenset(str(s) for s in data["api_key_scopes"]),
        )
        return self._key_status

    def require_scopes(self, *scopes: str) -> KeyStatus:
        """Raise MissingScopeError naming each scope the key lacks. The status is fetched once
        per client and reused."""
        status = self._key_status or self.status()
        missing = [s for s in scopes if s not in status.scopes]
        if missing:
            raise MissingScopeError(status.name, missing)
        return status

    # -- writes -----------------------------------------------------------------------------

    def batch_upsert(self, products: list[dict[str, Any]]) -> dict[str, Any]:
        """POST /products/batch; returns the answer's data (`results` holds one item per
        product). Upsert by EAN is idempotent, so a retried request is safe."""
        if not products:
            raise ValueError("batch_upsert needs at least one product")
        if len(products) > MAX_BATCH:
            raise ValueError(
                f"Pixee takes at most {MAX_BATCH} products a batch, got {len(products)}"
            )
        if any(not p.get("ean") for p in products):
            raise ValueError("every product in a batch needs an ean")
        data, _ = self._call("POST", "/products/batch", body=batch_body(products))
        return _data_object(data, "POST", "/products/batch")

    def upsert(self, product: Mapping[str, Any]) -> dict[str, Any]:
        """POST /products: create (needs `name`) or update the non-null fields sent."""
        if not product.get("ean"):
            raise ValueError("product needs an ean")
        data, _ = self._call("POST", "/products", body=orjson.dumps(dict(product)))
        return _data_object(data, "POST", "/products")

    def get_product(self, ean: str) -> dict[str, Any]:
        return self._product_call("GET", ean, None)

    def put_product(self, ean: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT replaces every writable field: fields left out become null in Pixee. The EAN is
        added to the body when missing (the vendor's example sends it)."""
        return self._product_call("PUT", ean, {"ean": ean, **body})

    def patch_product(self, ean: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH updates only the fields sent; null or absent fields stay as they are."""
        return self._product_call("PATCH", ean, dict(body))

    def _product_call(self, method: str, ean: str, body: dict[str, Any] | None) -> dict[str, Any]:
        if body is not None and str(body.get("ean", ean)) != ean:
            raise ValueError(f"body ean {body['ean']!r} differs from the path EAN {ean!r}")
        endpoint = f"/products/{quote(ean, safe='')}"
        content = orjson.dumps(body) if body is not None else None
        try:
            data, _ = self._call(method, endpoint, body=content)
        except VendorError as exc:
            if exc.status == 404:
                raise ProductNotFoundError(ean, method, endpoint, exc.detail) from None
            raise
        return _data_object(data, method, endpoint)

    # -- reads ------------------------------------------------------------------------------

    def delta(
        self, since: str, page_size: int = MAX_PAGE_SIZE, *, max_pages: int = 10_000
    ) -> DeltaRead:
        """Every product created or updated at or after `since` (GET /products/delta), page by
        page until a short page or `meta.total` items.

        Cursor choice: the FIRST page's `meta.updated_at` (the server's time when the read
        began). A product changed while later pages are read has an updated_at after it, so the
        next delta returns it again; the last page's time would skip it if it moved to a page
        already read. If the read returns fewer distinct EANs than `meta.total` (items shifted
        between pages), the read is marked incomplete and the cursor stays at `since`.
        """
        pages = self._pages("/products/delta", {"since": since}, page_size, max_pages)
        first_updated_at = pages.first_meta.get("updated_at")
        complete = pages.complete
        cursor = first_updated_at if complete and isinstance(first_updated_at, str) else since
        return DeltaRead(
            products=pages.products,
            pages=pages.count,
            cursor=cursor,
            complete=complete,
            total=pages.total,
            duplicates=pages.duplicates,
            meta=pages.first_meta,
        )

    def catalog_total(self) -> int:
        """How many products Pixee holds now (`meta.total` of GET /products, one item asked):
        the delta shows what was created or updated, never what was deleted, so a total below
        the local copy's count is how a deletion shows."""
        endpoint = "/products"
        _data, meta = self._call("GET", endpoint, params={"page": "1", "page_size": "1"})
        total = meta.get("total")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise VendorError(VENDOR, "GET", endpoint, 200, f"meta.total is not a count: {total!r}")
        return total

    def list_products(
        self, page_size: int = MAX_PAGE_SIZE, *, max_pages: int = 10_000
    ) -> ProductList:
        """Every product Pixee holds (GET /products, paged): the full copy that shows deletions.
        Incomplete when fewer distinct EANs came back than `meta.total` (pages shifted while a
        product was created): such a list must not replace a copy."""
        pages = self._pages("/products", {}, page_size, max_pages)
        return ProductList(pages.products, pages.count, pages.complete, pages.total)

    def _pages(
        self, endpoint: str, params: dict[str, str], page_size: int, max_pages: int
    ) -> _Pages:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        items: list[dict[str, Any]] = []
        first_meta: dict[str, Any] = {}
        total: int | None = None
        pages = 0
        while True:
            query = params | {"page": str(pages + 1), "page_size": str(page_size)}
            data, meta = self._call("GET", endpoint, params=query)
            if not isinstance(data, list):
                raise VendorError(VENDOR, "GET", endpoint, 200, "data is not a list of products")
            pages += 1
            if pages == 1:
                first_meta = meta
            total = meta.get("total") if isinstance(meta.get("total"), int) else total
            items.extend(data)
            if len(data) < page_size or (total is not None and len(items) >= total):
                break
            if pages >= max_pages:
                raise VendorError(
                    VENDOR, "GET", endpoint, 200, f"still had pages after {max_pages}"
                )
        products = _latest_per_ean(items)
        return _Pages(products, pages, first_meta, total, len(items) - len(products))

    # -- plumbing ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Pace, send (retrying transient faults), and unwrap the envelope into (data, meta)."""
        self.stats.waited_s += self.pacer.acquire(bucket_for(method, endpoint))
        self._slot_reserved = True
        try:
            # Every call is safe to repeat: reads, and writes keyed by EAN (upsert, PUT, PATCH).
            envelope = self.transport.request(
                method,
                endpoint,
                params=params,
                content=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                read=_envelope,
                safe_to_repeat=True,
            )
        finally:
            self._slot_reserved = False
        if envelope["success"] is not True:
            message = self._redact(_errors_text(envelope) or "no error message")
            raise VendorError(VENDOR, method, endpoint, 200, f"success false: {message}")
        meta = envelope.get("meta")
        return envelope.get("data"), meta if isinstance(meta, dict) else {}

    def _on_request(self, request: httpx.Request) -> None:
        if self._slot_reserved:
            self._slot_reserved = False
        else:
            self.pacer.record(bucket_for(request.method, request.url.path))

    def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        self.pacer.observe(bucket_for(request.method, request.url.path), response.headers)

    def _error_detail(self, response: httpx.Response) -> str | None:
        """The vendor's explanation of a non-2xx answer, for VendorError."""
        body = _json_object(response)
        if body is not None:
            text = _errors_text(body)
        else:  # not JSON (a proxy's HTML page, say): a short excerpt still helps
            text = " ".join(response.text.split())[:300] or None
        if response.status_code == 401 and not text:
            text = "API key missing or refused"
        return self._redact(text) if text else None

    def _redact(self, text: str) -> str:
        # Pixee could echo the key in a message; it must not reach a log or the UI.
        return text.replace(self._api_key, "***")


def _envelope(response: httpx.Response) -> dict[str, Any]:
    envelope = _json_object(response)
    if envelope is None or "success" not in envelope:
        raise UnreadableAnswer("answer is not the Pixee envelope {success, data, meta, errors}")
    return envelope


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Wait asked by a 429: the Retry-After header, else the body's `retry_after_seconds`
    (Pixee sends both in its examples; either may be absent)."""
    from_header = parse_retry_after_header(response.headers.get("Retry-After"))
    if from_header is not None:
        return from_header
    body = _json_object(response)
    value = body.get("retry_after_seconds") if body is not None else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value > 0 else None
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _errors_text(body: Mapping[str, Any]) -> str | None:
    """Pixee's `errors: [str]`, else a FastAPI-style `detail` (string or list of {loc, msg})."""
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                where = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    for key in ("message", "error"):
        if isinstance(body.get(key), str) and body[key]:
            return body[key]
    return None


def _data_object(data: Any, method: str, endpoint: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise VendorError(VENDOR, method, endpoint, 200, "answer's data is not an object")
    return data


def _latest_per_ean(items: list[Any]) -> list[dict[str, Any]]:
    """One entry per EAN (the one read last); a product can appear twice when pages shift."""
    by_key: dict[Any, dict[str, Any]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        key = item.get("ean") or item.get("id") or ("position", index)
        by_key[key] = item
    return list(by_key.values())


def _masked(api_key: str) -> str:
    for prefix in ("pm_live_", "pm_test_"):
        if api_key.startswith(prefix):
            return prefix + "***"
    return "***"
