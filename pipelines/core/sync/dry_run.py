"""The ledger in dry-run: it decides exactly as the live ledger would now (reading the real
one), and records nothing, so a dry-run shows what a live run would send and leaves the day's
budget, the resume state and our synced state untouched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import sqlalchemy as sa

from pipelines.core.cadence.ledger import CadenceLedger, Decision, Outcome, SyncRequest, UnitStatus

DRY_RUN_SYNC_ID = -1


class DryRunLedger:
    def __init__(self, ledger: CadenceLedger) -> None:
        self.ledger = ledger

    def decide(self, req: SyncRequest) -> Decision:
        return self.ledger.decide(req)

    def claim(self, req: SyncRequest) -> Decision:
        decision = self.ledger.decide(req)
        if decision.allowed:
            return replace(
                decision,
                sync_id=DRY_RUN_SYNC_ID,
                dry_run=True,
                reason="written to the outbox, ledger untouched (a live run would send now: "
                f"{decision.reason})",
            )
        return replace(
            decision,
            dry_run=True,
            reason=f"nothing written, ledger untouched (a live run would skip: {decision.reason})",
        )

    def record_noop(self, req: SyncRequest, reason: str) -> None:
        pass

    def record_blocked(self, req: SyncRequest, reason: str) -> None:
        pass

    def record_unit(
        self,
        sync_id: int,
        index: int,
        unit_key: str,
        status: UnitStatus,
        *,
        finishing: bool = False,
        also: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        pass

    def renew(self, sync_id: int) -> None:
        pass

    def finish(
        self,
        sync_id: int,
        outcome: Outcome,
        requests: int | None = None,
        detail: dict | None = None,
        *,
        also: Callable[[sa.Connection], None] | None = None,
    ) -> None:
        pass
