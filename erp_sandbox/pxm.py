"""Pattern PXM / Amplifi (`/v2.1/...`): OAuth client-credentials tokens and paged reads of
collections, categories and attributes. There is no write endpoint: the write schema is not
public, so the sandbox does not invent one.

Ours, not the vendor's (its reference is behind a login):
- The page shape {"data": [...], "total", "limit", "offset"} (PAGE_SHAPE below), `limit` default
  50 and max 500 (above is 400, not silently clamped), `offset` default 0.
- Errors: OAuth's {"error", "error_description"} for the token endpoint and for 401s (with a
  WWW-Authenticate header), {"error", "message"} for the rest.
- Tokens live in memory: a restart invalidates them, as an expiry would.
- Collection filters: `parent_id` (exact, "null" for top level) and `region_ids` (comma list,
  any overlap); `minified` is accepted and ignored.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from erp_sandbox.clock import Clock
from erp_sandbox.config import PxmConfig
from erp_sandbox.wire import Answer, JsonBodyError, parse_json

PATH_PREFIX = "/v2.1/"
READ_ENDPOINTS = {
    "/v2.1/collection": "collections",
    "/v2.1/category": "categories",
    "/v2.1/attribute": "attributes",
}
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def page_shape(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    """PAGE_SHAPE: the one place that decides how a page of PXM results looks."""
    return {"data": items, "total": total, "limit": limit, "offset": offset}


def error_answer(status: int, error: str, message: str) -> Answer:
    if status == 401:
        return Answer(
            401,
            {"error": error, "error_description": message},
            {"WWW-Authenticate": f'Bearer error="{error}"'},
        )
    return Answer(status, {"error": error, "message": message})


def error_for_path(path: str, status: int, message: str, retry_after: float | None) -> Answer:
    """The error shape the gateway uses for faults on PXM paths."""
    answer = Answer(status, {"error": "sandbox_fault", "message": message})
    if retry_after is not None:
        answer.headers["Retry-After"] = f"{retry_after:g}"
    return answer


class TokenIssuer:
    """Issued bearer tokens and when each expires (by the sandbox clock)."""

    def __init__(self, ttl_s: int, clock: Clock) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry[token] = self.clock() + self.ttl_s
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
        return expiry is not None and self.clock() < expiry

    def expire_all(self) -> None:
        with self._lock:
            self._expiry.clear()


class PxmService:
    def __init__(self, config: PxmConfig, clock: Clock) -> None:
        self.config = config
        self.tokens = TokenIssuer(config.token_ttl_s, clock)

    def authorize(self, authorization: str | None, body: bytes) -> Answer:
        if self._basic_credentials(authorization) != (
            self.config.client_id,
            self.config.client_secret,
        ):
            return error_answer(401, "invalid_client", "Client authentication failed")
        try:
            payload = parse_json(body)
        except JsonBodyError as exc:
            return error_answer(400, "invalid_request", str(exc))
        grant = payload.get("grant_type") if isinstance(payload, dict) else None
        if grant != "client_credentials":
            return error_answer(
                400, "unsupported_grant_type", f"grant_type {grant!r} is not client_credentials"
            )
        return Answer(
            200,
            {
                "access_token": self.tokens.issue(),
                "token_type": "Bearer",
                "expires_in": self.config.token_ttl_s,
            },
        )

    def read(self, path: str, authorization: str | None, params: dict[str, str]) -> Answer:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error_answer(401, "invalid_token", "Bearer token required")
        if not self.tokens.is_valid(token.strip()):
            return error_answer(401, "invalid_token", "Token is unknown or expired")
        try:
            limit = _int_param(params, "limit", DEFAULT_LIMIT, minimum=1)
            offset = _int_param(params, "offset", 0, minimum=0)
        except ValueError as exc:
            return error_answer(400, "invalid_request", str(exc))
        if limit > MAX_LIMIT:
            return error_answer(400, "invalid_request", f"limit must be at most {MAX_LIMIT}")
        items = getattr(self.config.catalog, READ_ENDPOINTS[path])
        if path == "/v2.1/collection":
            items = _filter_collections(items, params)
        return Answer(200, page_shape(items[offset : offset + limit], len(items), limit, offset))

    @staticmethod
    def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (client_id, secret) if sep else None


def _int_param(params: dict[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}")
    return value


def _filter_collections(
    items: list[dict[str, Any]], params: dict[str, str]
) -> list[dict[str, Any]]:
    parent = params.get("parent_id")
    if parent is not None:
        wanted = None if parent in ("", "null") else parent
        items = [
            c for c in items if (None if c["parent_id"] is None else str(c["parent_id"])) == wanted
        ]
    regions = params.get("region_ids")
    if regions:
        wanted_regions = {r.strip() for r in regions.split(",") if r.strip()}
        items = [c for c in items if wanted_regions & {str(r) for r in c["region_ids"]}]
    return items


def routes(service: PxmService, run: Any) -> list[Route]:
    """Starlette routes; `run` moves the blocking handler off the event loop."""

    async def authorize(request: Request) -> Response:
        body = await request.body()
        answer = await run(service.authorize, request.headers.get("authorization"), body)
        return answer.to_response()

    async def read(request: Request) -> Response:
        answer = await run(
            service.read,
            request.url.path.rstrip("/"),
            request.headers.get("authorization"),
            dict(request.query_params),
        )
        return answer.to_response()

    return [
        Route("/v2.1/oauth/authorize", authorize, methods=["POST"]),
        *(Route(path, read, methods=["GET"]) for path in READ_ENDPOINTS),
    ]
