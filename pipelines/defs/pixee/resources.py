"""Pixee connection (X-API-Key from PIXEE_API_KEY, read at run time), the full-resync switch, and
what becomes of products the ERP no longer exports."""

import dagster as dg
import httpx

from pipelines.core.pixee.client import DEFAULT_TIMEOUT, PixeeClient
from pipelines.core.pixee.removals import removed_status
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
    # inactive, archived or keep; empty: PIXEE_REMOVED_STATUS (default inactive).
    removed_status: str = ""
    # Removed share of what Pixee holds above which the send stops; unset: MAX_REMOVED_SHARE.
    max_removed_share: float | None = None

    @property
    def url(self) -> str:
        return self.base_url or settings.PIXEE_BASE_URL

    @property
    def resend_everything(self) -> bool:
        return settings.PIXEE_FULL_RESYNC if self.full_resync is None else self.full_resync

    @property
    def status_for_removed(self) -> str | None:
        """The status sent for a product the ERP no longer exports; None: keep."""
        try:
            return removed_status(self.removed_status or settings.PIXEE_REMOVED_STATUS)
        except ValueError as exc:
            raise dg.Failure(description=str(exc)) from None

    @property
    def removed_share_limit(self) -> float:
        if self.max_removed_share is None:
            return settings.MAX_REMOVED_SHARE
        return self.max_removed_share

    def client(self, transport: httpx.BaseTransport | None = None) -> PixeeClient:
        api_key = self.api_key or settings.secret("PIXEE_API_KEY")
        if transport is None and not api_key:
            raise dg.Failure(
                "Pixee is not configured: set PIXEE_API_KEY (and PIXEE_BASE_URL for a sandbox), "
                "or run with SYNC_MODE=dry-run"
            )
        return PixeeClient(
            self.url,
            api_key or "pm_test_dry_run",
            transport=transport,
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
        )
