"""PXM connection (OAuth client credentials from PXM_CLIENT_ID / PXM_CLIENT_SECRET, read at run
time)."""

import tomllib
from pathlib import Path

import dagster as dg
import httpx

from pipelines.core.pxm.client import DEFAULT_TIMEOUT, PxmClient
from pipelines.defs import settings


class PxmResource(dg.ConfigurableResource):
    # Empty: PXM_BASE_URL (default https://entapi.amplifi.io), read at run time.
    base_url: str = ""
    client_id: str | None = None
    client_secret: str | None = None
    # PXM attribute label -> Pixee field, and the label holding the EAN (config/pxm_enrichment.toml)
    mapping_file: str = ""  # empty: PXM_MAPPING_FILE
    # Seconds before a request times out (connect, read, write); unset: the client's default.
    timeout_s: float | None = None
    # Enrich from a cache at most this many days old; unset: PXM_CACHE_MAX_AGE_DAYS (7).
    cache_max_age_days: float | None = None

    @property
    def cache_age_limit_days(self) -> float:
        if self.cache_max_age_days is None:
            return settings.PXM_CACHE_MAX_AGE_DAYS
        return self.cache_max_age_days

    def _credentials(self) -> tuple[str | None, str | None]:
        return (
            self.client_id or settings.secret("PXM_CLIENT_ID"),
            self.client_secret or settings.secret("PXM_CLIENT_SECRET"),
        )

    @property
    def configured(self) -> bool:
        return all(self._credentials())

    @property
    def url(self) -> str:
        return self.base_url or settings.PXM_BASE_URL

    def client(self, transport: httpx.BaseTransport | None = None) -> PxmClient:
        """A live client, or one over `transport` (the dry-run outbox) that needs no secret."""
        client_id, client_secret = self._credentials()
        return PxmClient(
            self.url,
            client_id or ("dry-run" if transport else ""),
            client_secret or ("dry-run" if transport else ""),
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
            transport=transport,
        )

    def enrichment_mapping(self) -> tuple[dict[str, str], str]:
        path = Path(self.mapping_file or settings.PXM_MAPPING_FILE)
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        return dict(doc.get("attributes", {})), doc.get("ean_label", "EAN")
