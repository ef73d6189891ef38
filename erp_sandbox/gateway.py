"""The layer in front of the three vendors: it tells which vendor a request is for, buffers the
body (enforcing Paqtana's size cap), applies an armed fault instead of (or around) the vendor
handler, and logs every request with the status it got.

Faults act here, before authentication, like a load balancer or proxy would; so a faulted
request never reaches the handler and changes no state (partial_batch and expire_tokens pass
through on purpose)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from erp_sandbox import paqtana, pixee, pxm
from erp_sandbox.clock import Clock
from erp_sandbox.faults import PASS_THROUGH_KINDS, FaultBook, FaultRule
from erp_sandbox.store import SandboxStore
from erp_sandbox.wire import Answer

CONTROL_PREFIX = "/_sandbox"
# What a malformed answer carries: an HTML error page from a proxy, the usual non-JSON 200.
MALFORMED_BODY = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"
# A dropped answer promises this many bytes and sends a few.
DROP_DECLARED_BYTES = 4096
DROP_SENT_BODY = b'{"success": true, "data": ['

ErrorShape = Callable[[str, int, str, float | None], Answer]


def vendor_of(path: str) -> str:
    if path.startswith(CONTROL_PREFIX):
        return "sandbox"
    if path.startswith(paqtana.PATH_PREFIX):
        return "paqtana"
    if path == pixee.PATH_PREFIX or path.startswith(pixee.PATH_PREFIX + "/"):
        return "pixee"
    if path.startswith(pxm.PATH_PREFIX):
        return "pxm"
    return "unknown"


@dataclass
class _Exchange:
    """What the log records about one request."""

    vendor: str
    method: str
    path: str
    query: str
    time: float
    body_bytes: int = 0
    status: int | None = None
    fault: str | None = None

    def as_entry(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "vendor": self.vendor,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "body_bytes": self.body_bytes,
            "fault": self.fault,
        }


class Gateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: FaultBook,
        store: SandboxStore,
        clock: Clock,
        error_shapes: dict[str, ErrorShape],
        body_caps: dict[str, int],
        expire_tokens: Callable[[], None],
    ) -> None:
        self.app = app
        self.faults = faults
        self.store = store
        self.clock = clock
        self.error_shapes = error_shapes
        self.body_caps = body_caps
        self.expire_tokens = expire_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or vendor_of(scope["path"]) == "sandbox":
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(
            vendor=vendor_of(scope["path"]),
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            time=self.clock(),
        )

        logged = False

        async def log() -> None:
            nonlocal logged
            if not logged:
                logged = True
                await anyio.to_thread.run_sync(self.store.log_request, exchange.as_entry())

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Log before the last byte leaves, so a client that has its answer also finds
                # the request in the log.
                await log()
            await send(message)

        try:
            await self._handle(scope, receive, logged_send, exchange)
        finally:
            await log()

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, exchange: _Exchange
    ) -> None:
        vendor, path = exchange.vendor, exchange.path
        cap = self.body_caps.get(vendor)
        declared = _content_length(scope)
        if cap is not None and declared is not None and declared > cap:
            # Refuse on the header alone, without reading what the client is still sending.
            exchange.body_bytes = declared
            message = f"Payload too large: {declared} bytes, the maximum is {cap} bytes"
            await self._send_error(send, vendor, path, 413, message, None)
            return
        body, outcome = await _read_body(receive, cap)
        exchange.body_bytes = len(body)
        if outcome == "disconnected":
            return  # the client left mid-body: nothing to answer, nothing to apply
        if outcome == "too_large":
            message = f"Payload too large: more than the maximum of {cap} bytes"
            await self._send_error(send, vendor, path, 413, message, None)
            return

        rule = self.faults.take(vendor, exchange.method, path) if vendor != "unknown" else None
        exchange.fault = rule.kind if rule else None
        if rule is None or rule.kind in PASS_THROUGH_KINDS:
            if rule is not None and rule.kind == "expire_tokens":
                self.expire_tokens()
            inner_scope = {**scope, "sandbox.fault": rule}
            await self.app(inner_scope, _replay(body, receive), send)
            return
        await self._apply(rule, receive, send, exchange)

    async def _apply(
        self, rule: FaultRule, receive: Receive, send: Send, exchange: _Exchange
    ) -> None:
        vendor, path = exchange.vendor, exchange.path
        if rule.kind == "status":
            await self._send_error(
                send, vendor, path, rule.answer_status, rule.message, rule.retry_after
            )
        elif rule.kind == "slow":
            await _sleep_unless_disconnected(rule.delay_s, receive)
            await self._send_error(
                send, vendor, path, rule.answer_status, rule.message, rule.retry_after
            )
        elif rule.kind == "malformed":
            await _send_raw(send, 200, MALFORMED_BODY, b"application/json")
        elif rule.kind == "drop":
            # Promise more than is sent, then return: uvicorn closes the connection, and the
            # client sees a protocol error (httpx: RemoteProtocolError, "peer closed
            # connection without sending complete message body").
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(DROP_DECLARED_BYTES).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": DROP_SENT_BODY, "more_body": True})
            exchange.status = None  # nothing complete was answered

    async def _send_error(
        self,
        send: Send,
        vendor: str,
        path: str,
        status: int,
        message: str,
        retry_after: float | None,
    ) -> None:
        shape = self.error_shapes.get(vendor)
        if shape is None:
            answer = Answer(status, {"detail": message})
        else:
            answer = shape(path, status, message, retry_after)
        response = answer.to_response()
        await response({"type": "http"}, _no_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(receive: Receive, cap: int | None) -> tuple[bytes, str]:
    """The body and how reading it ended: "complete", "too_large" (stopped past `cap`) or
    "disconnected"."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), "disconnected"
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if cap is not None and size > cap:
            return b"".join(chunks), "too_large"
        if not message.get("more_body", False):
            return b"".join(chunks), "complete"


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the buffered body to the app once; later calls wait for the disconnect as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _sleep_unless_disconnected(delay_s: float, receive: Receive) -> None:
    """Sleep, but stop as soon as the client hangs up, so a timed-out client does not keep a
    handler (and the server's shutdown) waiting."""
    with anyio.move_on_after(delay_s):
        while (await receive())["type"] != "http.disconnect":
            pass


async def _send_raw(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
