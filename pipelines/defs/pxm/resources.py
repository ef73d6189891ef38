"""PXM connection (OAuth client credentials from PXM_CLIENT_ID / PXM_CLIENT_SECRET)."""

import tomllib
from pathlib import Path

import dagster as dg
import httpx

from pipelines.core.pxm.client import DEFAULT_TIMEOUT, PxmClient
from pipelines.defs import settings


class PxmResource(dg.ConfigurableResource):
    base_url: str = settings.PXM_BASE_URL
    client_id: str | None = None
    client_secret: str | None = None
    # PXM attribute label -> Pixee field, and the label holding the EAN (config/pxm_enrichment.toml)
    mapping_file: str = settings.PXM_MAPPING_FILE
    # Seconds before a request times out (connect, read, write); unset: the client's default.
    timeout_s: float | None = None

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def client(self) -> PxmClient:
        return PxmClient(
            self.base_url,
            self.client_id or "",
            self.client_secret or "",
            timeout=DEFAULT_TIMEOUT if self.timeout_s is None else httpx.Timeout(self.timeout_s),
        )

    def enrichment_mapping(self) -> tuple[dict[str, str], str]:
        doc = tomllib.loads(Path(self.mapping_file).read_text(encoding="utf-8"))
        return dict(doc.get("attributes", {})), doc.get("ean_label", "EAN")
