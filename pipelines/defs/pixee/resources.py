"""Pixee connection (X-API-Key from PIXEE_API_KEY) and the full-resync switch."""

import dagster as dg
import httpx

from pipelines.core.pixee.client import DEFAULT_TIMEOUT, PixeeClient
from pipelines.defs import settings


class PixeeResource(dg.ConfigurableResource):
    # Empty: PIXEE_BASE_URL (default https://api.pixeepim.com/api/v1/ext), read at run time.
    base_url: str = ""
    api_key: str | None = None
    # Send every product, not only the changed ones (e.g. after hand edits in the PIM); unset:
    # PIXEE_FULL_RESYNC.
    full_resync: bool | None = None
    # Seconds before a request times out (connect, read, write); unset: the client's default.
    timeout_s: float | None = None

    @property
    def url(self) -> str:
        return self.base_url or settings.PIXEE_BASE_URL

    @property
    def resend_everything(self) -> bool:
        return settings.PIXEE_FULL_RESYNC if self.full_resync is None else self.full_resync

    def client(self, transport: httpx.BaseTransport | None = None) -> PixeeClient:
        if transport is None and not self.api_key:
            raise dg.Failure(
                "Pixee is not configured: set PIXEE_API_KEY (and PIXEE_BASE_URL for a sandbox), "
                "or run with SYNC_MODE=dry-run"
            )
        return PixeeClient(
            self.url,
            self.api_key or "pm_test_dry_run",
            transport=transport,
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
        )
