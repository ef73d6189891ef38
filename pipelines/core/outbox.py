"""Dry-run: an httpx transport that writes each request to an outbox folder instead of sending it.

The vendor clients run unchanged on top of it, so what lands in the outbox is exactly what live
mode would send (method, URL, headers with secrets masked, body bytes). Each request is answered
with a canned success shaped like the vendor's, so the code path after the call is the live one.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})
MASK = "***"

Responder = Callable[[httpx.Request], httpx.Response]


class OutboxTransport(httpx.BaseTransport):
    def __init__(self, folder: Path, respond: Responder) -> None:
        self.folder = Path(folder)
        self.respond = respond
        self._numbers = itertools.count(
            len(list(self.folder.glob("*.request.json"))) + 1 if self.folder.exists() else 1
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.folder.mkdir(parents=True, exist_ok=True)
        body = request.read()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", request.url.path).strip("_")[-60:]
        stem = f"{next(self._numbers):04d}-{request.method}-{slug}"
        headers = {
            k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in request.headers.items()
        }
        record = {
            "method": request.method,
            "url": str(request.url),
            "headers": headers,
            "body_file": f"{stem}.body",
            "body_bytes": len(body),
        }
        (self.folder / f"{stem}.request.json").write_text(json.dumps(record, indent=2))
        (self.folder / f"{stem}.body").write_bytes(body)
        return self.respond(request)


def _json(data: object, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(data), headers={"Content-Type": "application/json"}
    )


def paqtana_responder(request: httpx.Request) -> httpx.Response:
    return _json({"operation_type": "dry_run", "operation_info": {"status": "ok"}})


def pixee_responder(request: httpx.Request) -> httpx.Response:
    meta = {"total": 0, "page": 1, "page_size": 0, "updated_at": None}
    if request.url.path.endswith("/status"):
        data: object = {
            "status": "ok",
            "api_key_name": "dry-run",
            "api_key_scopes": ["ext:products:read", "ext:products:write"],
        }
    elif request.url.path.endswith("/products/batch"):
        products = orjson.loads(request.content).get("products", [])
        results = [{"ean": p.get("ean"), "status": "created", "id": "dry-run"} for p in products]
        data = {
            "total": len(results),
            "created": len(results),
            "updated": 0,
            "errors": 0,
            "results": results,
        }
    elif request.method == "GET" and request.url.path.endswith(("/products/delta", "/products")):
        data = []  # a dry-run reads nothing: the delta cursor stays where it is
    else:
        data = {}
    return _json({"success": True, "data": data, "meta": meta, "errors": []})


def pxm_responder(request: httpx.Request) -> httpx.Response:
    """A token for the token request; every list is empty (a dry-run reads nothing)."""
    if request.url.path.endswith("/oauth/authorize"):
        return _json({"access_token": "dry-run", "token_type": "Bearer"})
    offset = int(request.url.params.get("offset", "0"))
    return _json({"data": [], "total": 0, "limit": 0, "offset": offset})
