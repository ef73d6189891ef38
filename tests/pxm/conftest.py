"""A fake PXM as an httpx.MockTransport handler: issues tokens, serves pages by limit/offset,
records every request, and can be told to refuse tokens or to answer with scripted faults."""

from __future__ import annotations

from collections import deque
from typing import Any

import httpx
import orjson
import pytest

BASE_URL = "http://127.0.0.1:9"
CLIENT_ID = "erp-sync-client"
CLIENT_SECRET = "s3cr3t-PXM-0001"
# base64("erp-sync-client:s3cr3t-PXM-0001"), written out so the test does not reuse the code.
BASIC_HEADER = "Basic ZXJwLXN5bmMtY2xpZW50OnMzY3IzdC1QWE0tMDAwMQ=="
TOKEN_PATH = "/v2.1/oauth/authorize"


class FakePxm:
    def __init__(
        self,
        collections: list[dict[str, Any]] | None = None,
        categories: list[dict[str, Any]] | None = None,
        attributes: list[dict[str, Any]] | None = None,
        *,
        bare_list: bool = False,
        page_cap: int | None = None,
        with_total: bool = True,
    ) -> None:
        self.lists = {
            "/v2.1/collection": collections or [],
            "/v2.1/category": categories or [],
            "/v2.1/attribute": attributes or [],
        }
        self.bare_list = bare_list
        self.page_cap = page_cap
        self.with_total = with_total
        self.requests: list[httpx.Request] = []
        # Authorization as sent: a replayed request is the same object with a new header.
        self.authorization: list[str] = []
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.refuse_all_tokens = False
        # Tokens stop being valid after this many API answers (a token expiring mid-run).
        self.revoke_after_api_calls: int | None = None
        self._api_calls = 0
        self.scripted: dict[tuple[str, str], deque[httpx.Response]] = {}

    def script(self, method: str, path: str, *responses: httpx.Response) -> None:
        self.scripted.setdefault((method, path), deque()).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        self.authorization.append(request.headers.get("Authorization", ""))
        queue = self.scripted.get((request.method, request.url.path))
        if queue:
            return queue.popleft()
        if request.url.path == TOKEN_PATH:
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.refuse_all_tokens or token not in self.valid:
            return httpx.Response(401, json={"message": "invalid token"})
        self._api_calls += 1
        if self._api_calls == self.revoke_after_api_calls:
            self.valid.clear()
        return self._page(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Authorization") != BASIC_HEADER:
            return httpx.Response(401, json={"message": "invalid client"})
        token = f"tok-{len(self.issued) + 1}-abcdef"
        self.issued.append(token)
        self.valid.add(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer"})

    def _page(self, request: httpx.Request) -> httpx.Response:
        items = self.lists[request.url.path]
        limit = int(request.url.params["limit"])
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        offset = int(request.url.params["offset"])
        page = items[offset : offset + limit]
        if self.bare_list:
            return httpx.Response(200, content=orjson.dumps(page))
        body: dict[str, Any] = {"data": page, "limit": limit, "offset": offset}
        if self.with_total:
            body["total"] = len(items)
        return httpx.Response(200, content=orjson.dumps(body))

    # -- what crossed the wire ---------------------------------------------------------------

    def wire(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]

    def api_authorization(self) -> list[str]:
        """The Authorization header of each API (non-token) request, as it was sent."""
        pairs = zip(self.requests, self.authorization, strict=True)
        return [auth for request, auth in pairs if request.url.path != TOKEN_PATH]

    def offsets(self, path: str) -> list[int]:
        return [int(r.url.params["offset"]) for r in self.requests if r.url.path == path]


def collection(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": n,
        "name": f"Product {n}",
        "parent_id": None,
        "updated_date": "2026-06-01T10:00:00Z",
        "collection_type": "parent",
        "region_ids": [1],
        "attributes": [{"id": 7, "label": "EAN", "value": f"{3760000000000 + n}"}],
        **extra,
    }


@pytest.fixture
def fake() -> FakePxm:
    return FakePxm(
        collections=[collection(n) for n in range(1, 1204)],
        categories=[{"id": 1, "name": "TV", "parent_id": None}],
        attributes=[{"id": 7, "label": "EAN"}],
    )
