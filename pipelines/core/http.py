"""What the three vendor clients share: retries that honour Retry-After, error types that carry
the vendor's message (never a credential), ONE classification of vendor answers, and a
per-request record for the UI's metadata."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Self, TypeVar

import httpx
import stamina

# Status codes worth trying again later; everything else 4xx fails at once.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# The key or token was refused or lacks a right: no retry and no item is to blame.
AUTH_STATUSES = frozenset({401, 403})
# How much of an unreadable answer an error quotes.
ANSWER_EXCERPT_BYTES = 120
T = TypeVar("T")


class AnswerClass(StrEnum):
    """What a failed vendor call means for the send, the same for every vendor."""

    RETRYABLE = "retryable"  # the vendor could not answer now (5xx, 408, 425, 429, no answer)
    CONTENT_REFUSED = "content refused"  # a 4xx about what was sent: its items are refused
    AUTH = "auth"  # credential refused or missing a scope: a person must act
    FATAL = "fatal"  # anything else (an unreadable 2xx, a redirect): the send stops


class UnreadableAnswer(ValueError):
    """A 2xx whose body is not what the vendor documents (a proxy's page, a cut body)."""


class VendorError(Exception):
    """A vendor call that did not succeed. The message names the endpoint, status and the
    vendor's own explanation; it is built from those fields only, so it never holds a secret."""

    def __init__(
        self,
        vendor: str,
        method: str,
        endpoint: str,
        status: int | None,
        detail: str | None = None,
        retry_after: float | None = None,
        give_up: bool = False,
        unreadable: bool = False,
    ) -> None:
        self.vendor = vendor
        self.give_up = give_up  # e.g. asked to wait longer than we wait: do not retry
        # A 2xx we could not read: retried only where repeating the request is safe.
        self.unreadable = unreadable
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        where = f"{vendor} {method} {endpoint}"
        what = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{where} failed: {what}" + (f": {detail}" if detail else ""))

    @property
    def retryable(self) -> bool:
        if self.give_up:
            return False
        return self.unreadable or self.status is None or self.status in RETRYABLE_STATUSES

    @property
    def answer_class(self) -> AnswerClass:
        return classify_status(self.status, unreadable=self.unreadable)


def classify_status(status: int | None, *, unreadable: bool = False) -> AnswerClass:
    """The one rule for every vendor: 408, 425, 429 and 5xx (and no answer) are never a refusal
    of the content; 401/403 are the credential's; another 4xx refuses what was sent."""
    if unreadable:
        return AnswerClass.FATAL
    if status is None or status in RETRYABLE_STATUSES or 500 <= status < 600:
        return AnswerClass.RETRYABLE
    if status in AUTH_STATUSES:
        return AnswerClass.AUTH
    if 400 <= status < 500:
        return AnswerClass.CONTENT_REFUSED
    return AnswerClass.FATAL


def classify(exc: BaseException) -> AnswerClass:
    """`classify_status` of a VendorError; any other exception is FATAL."""
    return exc.answer_class if isinstance(exc, VendorError) else AnswerClass.FATAL


def answer_excerpt(response: httpx.Response) -> str:
    """The first bytes of an answer, for an error a person reads."""
    head = response.content[:ANSWER_EXCERPT_BYTES]
    more = "..." if len(response.content) > ANSWER_EXCERPT_BYTES else ""
    return f"{head!r}{more}" if head else "an empty body"


def wait_too_long(
    vendor: str, method: str, endpoint: str, status: int, retry_after: float, limit_s: float
) -> VendorError:
    """A vendor asking us to come back later than we wait: fail now and say so, rather than
    call again within seconds against what it asked."""
    return VendorError(
        vendor,
        method,
        endpoint,
        status,
        f"asked to wait {retry_after:.0f}s, more than the {limit_s:.0f}s this client waits",
        give_up=True,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one request: attempts, and the total time spent including waits."""

    attempts: int = 6
    total_timeout_s: float = 600.0
    wait_initial_s: float = 1.0
    wait_max_s: float = 60.0
    # A Retry-After above this is not waited for: the call fails and says so.
    max_retry_after_s: float = 300.0


@dataclass
class RequestRecord:
    method: str
    endpoint: str
    status: int | None
    bytes_sent: int
    seconds: float
    attempt: int


@dataclass
class CallStats:
    """Everything a load asset reports about its traffic."""

    requests: list[RequestRecord] = field(default_factory=list)
    waited_s: float = 0.0

    @property
    def retries(self) -> int:
        return sum(1 for r in self.requests if r.attempt > 1)

    @property
    def bytes_sent(self) -> int:
        return sum(r.bytes_sent for r in self.requests)

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.requests:
            key = str(r.status) if r.status is not None else "no answer"
            counts[key] = counts.get(key, 0) + 1
        return counts


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date). 0, negative or garbage is
    "no hint" rather than "retry at once", so a broken header cannot cause a hot loop."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if _looks_like_date(value) else None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return seconds if seconds > 0 else None


def _looks_like_date(value: str) -> bool:
    try:
        return email.utils.parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


DetailParser = Callable[[httpx.Response], str | None]


def _no_detail(response: httpx.Response) -> str | None:
    return None


class VendorTransport:
    """One httpx.Client plus the retry loop. Vendor clients call `request` and get a successful
    response or a VendorError; they never see a transient fault that a retry fixed."""

    def __init__(
        self,
        vendor: str,
        client: httpx.Client,
        retry: RetryPolicy | None = None,
        detail_parser: DetailParser = _no_detail,
        retry_after_parser: Callable[[httpx.Response], float | None] | None = None,
    ) -> None:
        self.vendor = vendor
        self.client = client
        self.retry = retry or RetryPolicy()
        self.detail_parser = detail_parser
        self.retry_after_parser = retry_after_parser or (
            lambda r: parse_retry_after(r.headers.get("Retry-After"))
        )
        self.stats = CallStats()

    def close(self) -> None:
        self.client.close()

    def _backoff(self, exc: Exception) -> bool | float:
        if not isinstance(exc, VendorError) or not exc.retryable:
            return False
        if exc.retry_after is not None:
            return exc.retry_after
        return True

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = True,
        read: Callable[[httpx.Response], T] | None = None,
        safe_to_repeat: bool = False,
    ) -> httpx.Response | T:
        """Send one request, retrying transient faults. `endpoint` is a path relative to the
        client's base URL; it is also the name used in errors and metadata.

        `read` turns a 2xx into its value and raises UnreadableAnswer when the body is not the
        vendor's; such an answer is retried like a 5xx when `safe_to_repeat` (the request may be
        applied twice without harm: a PUT that replaces, a merge, an upsert by key), and
        otherwise, or once retries run out, fails quoting the body's first bytes."""
        policy = self.retry
        started = time.monotonic()
        busy = 0.0
        attempt_no = 0
        try:
            for attempt in stamina.retry_context(
                on=self._backoff,
                attempts=policy.attempts if retry else 1,
                timeout=policy.total_timeout_s,
                wait_initial=policy.wait_initial_s,
                wait_max=policy.wait_max_s,
            ):
                with attempt:
                    attempt_no += 1
                    t0 = time.monotonic()
                    try:
                        response = self._send(
                            method, endpoint, params, content, headers, attempt_no
                        )
                        if read is None:
                            return response
                        return self._read(response, read, method, endpoint, safe_to_repeat)
                    finally:
                        busy += time.monotonic() - t0
        finally:  # waits of a call that finally failed count too
            self.stats.waited_s += max(0.0, time.monotonic() - started - busy)
        raise AssertionError("unreachable: stamina raises when attempts run out")

    def _read(
        self,
        response: httpx.Response,
        read: Callable[[httpx.Response], T],
        method: str,
        endpoint: str,
        safe_to_repeat: bool,
    ) -> T:
        try:
            return read(response)
        except UnreadableAnswer as exc:
            raise VendorError(
                self.vendor,
                method,
                endpoint,
                response.status_code,
                f"{exc}; the answer began {answer_excerpt(response)}",
                give_up=not safe_to_repeat,
                unreadable=True,
            ) from None

    def _send(
        self,
        method: str,
        endpoint: str,
        params: dict[str, str] | None,
        content: bytes | None,
        headers: dict[str, str] | None,
        attempt_no: int,
    ) -> httpx.Response:
        t0 = time.monotonic()
        size = len(content) if content else 0
        try:
            response = self.client.request(
                method, endpoint, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            self.stats.requests.append(
                RequestRecord(method, endpoint, None, size, time.monotonic() - t0, attempt_no)
            )
            kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
            raise VendorError(self.vendor, method, endpoint, None, kind) from None
        self.stats.requests.append(
            RequestRecord(
                method, endpoint, response.status_code, size, time.monotonic() - t0, attempt_no
            )
        )
        if response.is_success:
            return response
        retry_after = None
        if response.status_code in RETRYABLE_STATUSES:
            retry_after = self.retry_after_parser(response)
            if retry_after is not None and retry_after > self.retry.max_retry_after_s:
                raise wait_too_long(
                    self.vendor,
                    method,
                    endpoint,
                    response.status_code,
                    retry_after,
                    self.retry.max_retry_after_s,
                )
        raise VendorError(
            self.vendor,
            method,
            endpoint,
            response.status_code,
            self.detail_parser(response),
            retry_after=retry_after,
        )


class VendorClient:
    """What every vendor client shares: one VendorTransport, its call records, and closing."""

    transport: VendorTransport

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def stats(self) -> CallStats:
        """Every request sent (retries included), with the time spent waiting."""
        return self.transport.stats
