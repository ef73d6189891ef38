"""Paqtana's HTTP client: Bearer auth, the three endpoints the sync uses, and error messages
that carry the vendor's own validation text (never the token). Retries come from the shared
`VendorTransport`: 429 (Retry-After honoured), 5xx, timeouts and connection errors are retried;
400/401/403/404/413/422 fail at once. Both writes are safe to repeat (the PUT replaces, the POST
replaces the same day and item), so a retried write cannot double anything."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar
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
from pipelines.core.paqtana.contract import (
    AUTO_CALCULATE_PARAM,
    DEFAULT_BODY_CAP_BYTES,
    DEMAND_METHOD,
    ERROR_DETAIL_PATH,
    ERROR_TYPE_FIELD,
    HISTORICAL_DEMAND_PATH,
    MASTER_INVENTORY_METHOD,
    MASTER_INVENTORY_PATH,
    WORKSPACE_CODES_PATH,
    WORKSPACES_METHOD,
    WORKSPACES_PATH,
    PayloadTooLargeError,
)

VENDOR = "Paqtana"
DEFAULT_BASE_URL = "https://api.paqtana.com"
# Evidence: the public integration used 5 s connect / 180 s read (a 32 MB POST takes a while).
DEFAULT_TIMEOUT = httpx.Timeout(180, connect=5)
# A vendor message longer than this is cut in errors (an HTML error page is not worth reading).
MAX_DETAIL_CHARS = 500
T = TypeVar("T")


class PaqtanaAuthError(VendorError):
    """The token was refused (401) or has no access to the org (403). Never retried."""


class _BearerAuth(httpx.Auth):
    """Adds the token per request, so it lives in one object whose repr does not show it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth token=***>"


class PaqtanaClient(VendorClient):
    """One org's Paqtana API. Every method returns the parsed answer or raises VendorError."""

    def __init__(
        self,
        base_url: str,
        token: str,
        org: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        max_body_bytes: int = DEFAULT_BODY_CAP_BYTES,
    ) -> None:
        # Checked here: httpx would otherwise quote the bad header value (the token) in its error.
        if not token or not token.isascii() or not token.isprintable() or " " in token:
            raise ValueError("Paqtana token is empty or holds spaces, control or non-ASCII text")
        if not org:
            raise ValueError("Paqtana org code is empty")
        self.base_url = base_url
        self.org = org
        self.max_body_bytes = max_body_bytes
        self._org_path = f"v2/org/{quote(org, safe='')}"
        self._token_scrubber = _Scrubber(token)
        client = httpx.Client(
            base_url=base_url,
            auth=_BearerAuth(token),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "erp-sync"},
        )
        self.transport = VendorTransport(
            VENDOR,
            client,
            retry,
            detail_parser=lambda r: self._token_scrubber(paqtana_error_detail(r)),
        )

    def __repr__(self) -> str:
        return f"PaqtanaClient(base_url={self.base_url!r}, org={self.org!r})"

    def list_workspaces(self) -> list[tuple[str, str]]:
        """(name, code) of every workspace in the org."""
        endpoint = f"{self._org_path}/{WORKSPACES_PATH}"
        return self._request(
            WORKSPACES_METHOD, endpoint, read=_workspace_pairs, safe_to_repeat=True
        )

    def put_master_inventory(self, body: bytes) -> dict[str, Any]:
        """Replace the org's whole master inventory with `body` (from build_master_inventory)."""
        return self._write(MASTER_INVENTORY_METHOD, MASTER_INVENTORY_PATH, body, None)

    def post_historical_demand(self, body: bytes, *, auto_calculate: bool) -> dict[str, Any]:
        """Merge one demand chunk. `auto_calculate` only on the sync's last request: it makes
        Paqtana recompute order suggestions."""
        params = dict([AUTO_CALCULATE_PARAM]) if auto_calculate else None
        return self._write(DEMAND_METHOD, HISTORICAL_DEMAND_PATH, body, params)

    def _write(
        self, method: str, path: str, body: bytes, params: dict[str, str] | None
    ) -> dict[str, Any]:
        endpoint = f"{self._org_path}/{path}"
        if len(body) > self.max_body_bytes:
            raise PayloadTooLargeError(
                f"{VENDOR} {method} {endpoint}: body is {len(body):,} bytes, over the "
                f"{self.max_body_bytes:,}-byte cap; not sent"
            )
        # Both writes are safe to repeat: the PUT replaces, the POST replaces the same day + item.
        return self._request(
            method,
            endpoint,
            params=params,
            content=body,
            headers={"Content-Type": "application/json"},
            read=_write_answer,
            safe_to_repeat=True,
        )

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        read: Callable[[httpx.Response], T],
        safe_to_repeat: bool,
    ) -> T:
        try:
            return self.transport.request(
                method,
                endpoint,
                params=params,
                content=content,
                headers=headers,
                read=read,
                safe_to_repeat=safe_to_repeat,
            )
        except VendorError as exc:
            if exc.status in (401, 403):
                raise _auth_error(exc, self.org) from None
            if exc.status == 413 and content is not None:
                detail = f"body of {len(content):,} bytes refused as too large"
                detail += f"; {exc.detail}" if exc.detail else ""
                raise VendorError(VENDOR, method, endpoint, 413, detail) from None
            raise


def _workspace_pairs(response: httpx.Response) -> list[tuple[str, str]]:
    answer: Any = _json_or_none(response)
    for key in WORKSPACE_CODES_PATH:
        answer = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(answer, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(v, str) for v in pair)
        for pair in answer
    ):
        raise UnreadableAnswer(
            "answer has no " + ".".join(WORKSPACE_CODES_PATH) + " list of [name, code]"
        )
    return [(name, code) for name, code in answer]


def _write_answer(response: httpx.Response) -> dict[str, Any]:
    """A write's answer: a JSON object, or an empty body. A 2xx that is not JSON (a proxy's page)
    is no proof the write was applied."""
    if not response.content:
        return {}
    answer = _json_or_none(response)
    if answer is None:
        raise UnreadableAnswer("answer is not JSON")
    return answer if isinstance(answer, dict) else {"answer": answer}


def _auth_error(exc: VendorError, org: str) -> PaqtanaAuthError:
    if exc.status == 401:
        hint = (
            "the token was refused (revoked or wrong); generate a new one in Admin Console > "
            "Integration API Configuration v2 and update the secret"
        )
    else:
        hint = f"the token has no access here; check it belongs to org '{org}'"
    detail = f"{hint} (vendor says: {exc.detail})" if exc.detail else hint
    return PaqtanaAuthError(exc.vendor, exc.method, exc.endpoint, exc.status, detail)


def paqtana_error_detail(response: httpx.Response) -> str | None:
    """The vendor's explanation from an error answer: `operation_type` and
    `operation_info.validation_error` when the body is JSON (evidence), else a short excerpt of
    the body text, else None."""
    parsed = _json_or_none(response)
    if isinstance(parsed, dict):
        parts: list[str] = []
        operation = parsed.get(ERROR_TYPE_FIELD)
        if operation:
            parts.append(f"{ERROR_TYPE_FIELD}={_as_text(operation)}")
        detail: Any = parsed
        for key in ERROR_DETAIL_PATH:
            detail = detail.get(key) if isinstance(detail, dict) else None
        if detail:
            parts.append(_as_text(detail))
        elif isinstance(parsed.get("detail"), str | list | dict):
            # Not Paqtana's documented shape, but a common framework default: still worth showing.
            parts.append(_as_text(parsed["detail"]))
        if parts:
            return _shorten("; ".join(parts))
    text = response.text.strip() if response.content else ""
    return _shorten(" ".join(text.split())) if text else None


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


class _Scrubber:
    """Removes the token from any vendor text before it reaches an error message."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, text: str | None) -> str | None:
        return text.replace(self._token, "***") if text else text

    def __repr__(self) -> str:
        return "<Scrubber>"
