"""The run-failure alert: what it says, and posting it to a webhook.

The payload holds only the fields of `FailureAlert`: no run config, no resource values, no
environment, so nothing secret can leave with it. The webhook URL itself is a credential (chat
webhooks embed their token in the path): no message here ever contains it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx

DEFAULT_TIMEOUT_S = 5.0


class AlertDeliveryError(Exception):
    """The webhook could not be reached or refused the alert. The message names the webhook's
    host and what went wrong, never its full URL."""


@dataclasses.dataclass(frozen=True)
class FailureAlert:
    job: str
    run_id: str
    partition: str | None
    failed_step: str | None
    error: str  # first line of the error message
    run_url: str | None
    time: str  # ISO 8601, UTC

    @property
    def text(self) -> str:
        """One line a person reads; also makes the JSON acceptable to Slack-style webhooks."""
        where = f" for {self.partition}" if self.partition else ""
        step = f" at step {self.failed_step}" if self.failed_step else ""
        link = f" {self.run_url}" if self.run_url else ""
        return f"{self.job}{where} failed{step}: {self.error}{link}"

    def to_json(self) -> dict[str, str | None]:
        return dataclasses.asdict(self) | {"text": self.text}


@dataclasses.dataclass(frozen=True)
class MissingDropAlert:
    """The ERP drop a business day expects was not complete at the loads' deadline."""

    day: str
    deadline: str  # e.g. "07:00 UTC"
    why: str
    time: str  # ISO 8601, UTC
    job: str = "daily_sync"

    @property
    def text(self) -> str:
        return (
            f"the ERP drop for {self.day} was expected by {self.deadline} and is not there: "
            f"{self.why}; the sync starts when it completes (erp_drop_sensor)"
        )

    def to_json(self) -> dict[str, str | None]:
        return dataclasses.asdict(self) | {"text": self.text}


def first_line(message: str) -> str:
    """The first non-empty line: enough to recognise the error in a chat message."""
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return ""


def error_text(cls_name: str, message: str) -> str:
    """First line of an exception's message without the `module.Class: ` prefix that Python's
    traceback formatting puts in front of it."""
    head = first_line(message)
    prefix, sep, rest = head.partition(": ")
    if sep and prefix.rsplit(".", 1)[-1] == cls_name:
        return rest.strip()
    return head


def run_url(webserver_url: str | None, run_id: str) -> str | None:
    """Link to the run in the Dagster UI, when we know where the UI is."""
    if not webserver_url:
        return None
    return f"{webserver_url.rstrip('/')}/runs/{run_id}"


def iso_utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat(timespec="seconds")


def post_alert(
    url: str, alert: FailureAlert | MissingDropAlert, timeout_s: float = DEFAULT_TIMEOUT_S
) -> int:
    """POST the alert as JSON, once (an alert a minute late is worth less than a sensor tick
    that finishes): returns the HTTP status, raises AlertDeliveryError otherwise.

    Sent through a transport, not an `httpx.Client`: the client logs every request's full URL at
    INFO, and this URL is a credential. Proxy variables (HTTPS_PROXY) are therefore not read."""
    try:
        host = httpx.URL(url).host or "the webhook"
    except httpx.InvalidURL:
        raise AlertDeliveryError("the alert webhook URL is not a valid URL") from None
    request = httpx.Request(
        "POST",
        url,
        json=alert.to_json(),
        extensions={"timeout": httpx.Timeout(timeout_s).as_dict()},
    )
    try:
        with httpx.HTTPTransport() as transport:
            response = transport.handle_request(request)
            response.read()
    # httpx's own messages may quote the URL, so only the error's type goes on
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise AlertDeliveryError(
            f"alert webhook at {host} not reached: {type(exc).__name__}"
        ) from None
    if not response.is_success:
        raise AlertDeliveryError(f"alert webhook at {host} answered HTTP {response.status_code}")
    return response.status_code
