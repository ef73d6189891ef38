"""Paqtana connection settings; the token and org are read from the environment at run time."""

import dagster as dg
import httpx

from pipelines.core.paqtana.client import DEFAULT_TIMEOUT, PaqtanaClient
from pipelines.core.paqtana.contract import DEFAULT_BODY_CAP_BYTES
from pipelines.defs import settings


class PaqtanaResource(dg.ConfigurableResource):
    """Bearer-token client for one Paqtana org (PAQTANA_BASE_URL, PAQTANA_TOKEN, PAQTANA_ORG).
    Unset fields are read from those variables when the run uses them, never held in config."""

    # Empty: PAQTANA_BASE_URL (default https://api.paqtana.com), read at run time.
    base_url: str = ""
    token: str | None = None
    org: str | None = None
    # Largest request body we send (the vendor's limit is 32 MB; the default keeps headroom);
    # empty: PAQTANA_MAX_BODY_BYTES, e.g. to make many small chunks in a test.
    max_body_bytes: int | None = None
    # Seconds before a request times out (connect, read, write); unset: the client's default.
    timeout_s: float | None = None

    @property
    def url(self) -> str:
        return self.base_url or settings.PAQTANA_BASE_URL

    @property
    def body_cap_bytes(self) -> int:
        return self.max_body_bytes or settings.PAQTANA_MAX_BODY_BYTES or DEFAULT_BODY_CAP_BYTES

    def client(self, transport: httpx.BaseTransport | None = None) -> PaqtanaClient:
        """A live client, or one over `transport` (the dry-run outbox) that needs no token."""
        token = self.token or settings.secret("PAQTANA_TOKEN")
        org = self.org or settings.secret("PAQTANA_ORG")
        if transport is None and not (token and org):
            raise dg.Failure(
                "Paqtana is not configured: set PAQTANA_TOKEN and PAQTANA_ORG (and "
                "PAQTANA_BASE_URL for a sandbox), or run with SYNC_MODE=dry-run"
            )
        return PaqtanaClient(
            self.url,
            token or "dry-run",
            org or "dry-run-org",
            transport=transport,
            max_body_bytes=self.body_cap_bytes,
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
        )
