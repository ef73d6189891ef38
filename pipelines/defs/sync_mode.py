"""Live or dry-run: in dry-run every load writes its exact requests to an outbox folder per run."""

from pathlib import Path

import dagster as dg
import httpx

from pipelines.core.outbox import OutboxTransport, Responder
from pipelines.defs import settings


class SyncModeResource(dg.ConfigurableResource):
    # Empty: SYNC_MODE (default live) and SYNC_OUTBOX_DIR, read at run time.
    mode: str = ""
    outbox_dir: str = ""

    @property
    def effective_mode(self) -> str:
        return (self.mode or settings.SYNC_MODE).strip().lower()

    @property
    def dry_run(self) -> bool:
        mode = self.effective_mode
        if mode not in ("live", "dry-run"):
            raise dg.Failure(f"SYNC_MODE must be 'live' or 'dry-run', not {mode!r}")
        return mode == "dry-run"

    def outbox_folder(self, run_id: str, vendor: str) -> Path:
        return Path(self.outbox_dir or settings.OUTBOX_DIR) / run_id / vendor

    def transport(self, run_id: str, vendor: str, respond: Responder) -> httpx.BaseTransport | None:
        """The outbox in dry-run; None (a real connection) in live mode."""
        if not self.dry_run:
            return None
        return OutboxTransport(self.outbox_folder(run_id, vendor), respond)
