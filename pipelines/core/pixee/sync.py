"""The Pixee catalog send through the sync engine: batches of at most 500 products, each product
marked synced (with the hash of the body Pixee took) in the same transaction that records its
batch as accepted; products Pixee refused are reported with its message and stay unsynced."""

from __future__ import annotations

import sqlalchemy as sa

from pipelines.core.pixee.changes import UpsertPlan, apply_batch_result
from pipelines.core.pixee.client import WRITE_SCOPE, PixeeClient
from pipelines.core.pixee.payloads import batch_body
from pipelines.core.pixee.synced_state import mark_synced
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer, sha256_of

NO_CHANGE = "no new or changed product since the last accepted sync"


def batches_plan(plan: UpsertPlan) -> SendPlan:
    batches = plan.batches()
    units = [
        Unit(
            sha256_of([batch_body(batch)]), batch, len(batch), f"Pixee batch {i + 1}/{len(batches)}"
        )
        for i, batch in enumerate(batches)
    ]
    payload_hash = sha256_of(sorted(plan.hashes.values())) if units else None
    return SendPlan(units, payload_hash=payload_hash, nothing_to_send=NO_CHANGE)


class BatchSender:
    """Checks the key's write scope before its first write, naming the missing scope."""

    def __init__(self, client: PixeeClient) -> None:
        self.client = client
        self.stats = client.stats
        self._scopes_checked = False

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        if not self._scopes_checked:
            self.client.require_scopes(WRITE_SCOPE)
            self._scopes_checked = True
        outcome = apply_batch_result(unit.payload, self.client.batch_upsert(unit.payload))
        return UnitAnswer(
            refused=outcome.failed,
            counts={"created": outcome.created, "updated": outcome.updated},
            value=outcome.accepted,
        )

    def refused_items(self, unit: Unit) -> list[str]:
        return [str(p["ean"]) for p in unit.payload]


class SyncedProductsWriter:
    """Products Pixee accepted, marked as the engine records each batch."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        mark_synced(conn, answer.value, self.run_id)

    def send_succeeded(self, conn: sa.Connection) -> None:
        pass
