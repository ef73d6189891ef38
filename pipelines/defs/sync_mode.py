"""Live or dry-run: in dry-run every load writes its exact requests to an outbox folder per run."""

from pathlib import Path

import dagster as dg
import httpx

from pipelines.core.outbox import OutboxTransport, Responder
from pipelines.defs import settings


class SyncModeResource(dg.ConfigurableResource):
    mode: str = settings.SYNC_MODE
    outbox_dir: str = settings.OUTBOX_DIR

    @property
    def dry_run(self) -> bool:
        if self.mode not in ("live", "dry-run"):
            raise dg.Failure(f"SYNC_MODE must be 'live' or 'dry-run', not {self.mode!r}")
        return self.mode == "dry-run"

    def outbox_folder(self, run_id: str, vendor: str) -> Path:
        return Path(self.outbox_dir) / run_id / vendor

    def transport(self, run_id: str, vendor: str, respond: Responder) -> httpx.BaseTransport | None:
        """The outbox in dry-run; None (a real connection) in live mode."""
        if not self.dry_run:
            return None
        return OutboxTransport(self.outbox_folder(run_id, vendor), respond)
