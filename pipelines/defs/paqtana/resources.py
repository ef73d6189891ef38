"""Paqtana connection settings; the token and org come from the environment (dg.EnvVar)."""

import dagster as dg
import httpx

from pipelines.core.paqtana.client import DEFAULT_TIMEOUT, PaqtanaClient
from pipelines.core.paqtana.contract import DEFAULT_BODY_CAP_BYTES
from pipelines.defs import settings


class PaqtanaResource(dg.ConfigurableResource):
    """Bearer-token client for one Paqtana org (PAQTANA_BASE_URL, PAQTANA_TOKEN, PAQTANA_ORG)."""

    base_url: str = settings.PAQTANA_BASE_URL
    token: str | None = None
    org: str | None = None
    # Largest request body we send (the vendor's limit is 32 MB; the default keeps headroom;
    # PAQTANA_MAX_BODY_BYTES lowers it, e.g. to make many small chunks in a test).
    max_body_bytes: int = settings.PAQTANA_MAX_BODY_BYTES or DEFAULT_BODY_CAP_BYTES
    # Seconds before a request times out (connect, read, write); unset: the client's default.
    timeout_s: float | None = None

    def client(self, transport: httpx.BaseTransport | None = None) -> PaqtanaClient:
        """A live client, or one over `transport` (the dry-run outbox) that needs no token."""
        if transport is None and not (self.token and self.org):
            raise dg.Failure(
                "Paqtana is not configured: set PAQTANA_TOKEN and PAQTANA_ORG (and "
                "PAQTANA_BASE_URL for a sandbox), or run with SYNC_MODE=dry-run"
            )
        return PaqtanaClient(
            self.base_url,
            self.token or "dry-run",
            self.org or "dry-run-org",
            transport=transport,
            max_body_bytes=self.max_body_bytes,
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
        )
