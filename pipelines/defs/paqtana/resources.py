"""Paqtana connection settings; the token and org come from the environment (dg.EnvVar)."""

import dagster as dg
import httpx

from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.defs import settings


class PaqtanaResource(dg.ConfigurableResource):
    """Bearer-token client for one Paqtana org (PAQTANA_BASE_URL, PAQTANA_TOKEN, PAQTANA_ORG)."""

    base_url: str = settings.PAQTANA_BASE_URL
    token: str | None = None
    org: str | None = None

    def client(self, transport: httpx.BaseTransport | None = None) -> PaqtanaClient:
        """A live client, or one over `transport` (the dry-run outbox) that needs no token."""
        if transport is None and not (self.token and self.org):
            raise dg.Failure(
                "Paqtana is not configured: set PAQTANA_TOKEN and PAQTANA_ORG (and "
                "PAQTANA_BASE_URL for a sandbox), or run with SYNC_MODE=dry-run"
            )
        return PaqtanaClient(
            self.base_url, self.token or "dry-run", self.org or "dry-run-org", transport=transport
        )
