"""The Pixee catalog send through the sync engine: batches of at most 500 products (the changed
ones, the requeued and still-refused ones, then the removals), each product marked synced (with
the hash of the ERP's product Pixee took) in the same transaction that records its batch as
accepted; products Pixee refused are kept with its reason and the first day it refused them,
and are sent again by every daily send until it accepts them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from pipelines.core.pixee.changes import UpsertPlan, apply_batch_result
from pipelines.core.pixee.client import WRITE_SCOPE, PixeeClient
from pipelines.core.pixee.payloads import batch_body, batches, content_hash
from pipelines.core.pixee.removals import Removals
from pipelines.core.pixee.synced_state import (
    Refusal,
    forget_refused,
    mark_refused,
    mark_synced,
)
from pipelines.core.rejects import item_rejects, vendor_refusal
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer, sha256_of

NO_CHANGE = "no new or changed product since the last accepted sync"


@dataclass(frozen=True)
class CatalogSend:
    """One day's catalog send: the engine's plan, and what acceptance records per EAN."""

    plan: SendPlan
    # ean -> the hash recorded once Pixee accepts it (the ERP's product, or the removal body)
    hashes: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)  # ean -> status sent as removed


def catalog_send(
    upserts: UpsertPlan, removals: Removals | None = None, refused: Collection[str] = ()
) -> CatalogSend:
    """The send's units, in order: upserts, then removals.

    The identical-payload rule (the ledger skips a payload equal to the last accepted one) is
    off for a send that carries a product Pixee is known not to hold: one it refused, or one
    requeued. Its payload hash is left out, because an equal hash proves nothing there: the
    refused product of yesterday's accepted send is exactly what today's send must carry again.
    Every other send keeps the rule (a full resync of an unchanged catalog is not repeated)."""
    removal_bodies = removals.bodies if removals is not None else []
    bodies = upserts.to_send + removal_bodies
    hashes = dict(upserts.hashes) | {b["ean"]: content_hash(b) for b in removal_bodies}
    parts = batches(bodies)
    units = [
        Unit(sha256_of([batch_body(b)]), b, len(b), f"Pixee batch {i + 1}/{len(parts)}")
        for i, b in enumerate(parts)
    ]
    pending = upserts.pending or any(b["ean"] in refused for b in removal_bodies)
    payload_hash = sha256_of(sorted(hashes.values())) if units and not pending else None
    safeguards = []
    if removals is not None and removals.bodies and removals.safeguard is not None:
        safeguards.append(removals.safeguard)
    plan = SendPlan(
        units, payload_hash=payload_hash, nothing_to_send=NO_CHANGE, safeguards=safeguards
    )
    return CatalogSend(plan, hashes, removals.removed if removals is not None else {})


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
    """What each batch's answer changes in our state, as the engine records it: products
    accepted are marked synced (and leave the refused list), products refused are kept with
    Pixee's reason; once the send succeeds, refusals of products the ERP no longer exports are
    dropped (nothing will send them again)."""

    def __init__(
        self,
        run_id: str,
        today: dt.date,
        *,
        send: CatalogSend | None = None,
        data_as_of: dt.date | None = None,
        no_longer_exported: Collection[str] = (),
    ) -> None:
        self.run_id = run_id
        self.today = today
        self.hashes: Mapping[str, str] = send.hashes if send is not None else {}
        self.removed: Mapping[str, str] = send.removed if send is not None else {}
        self.data_as_of = data_as_of
        self.no_longer_exported = no_longer_exported

    def unit_accepted(self, conn: sa.Connection, unit: Unit, answer: UnitAnswer) -> None:
        accepted = {ean: self.hashes.get(ean, h) for ean, h in answer.value.items()}
        mark_synced(conn, accepted, self.run_id, data_as_of=self.data_as_of, removed=self.removed)
        mark_refused(conn, answer.refused, self.run_id, self.today)

    def unit_refused(self, conn: sa.Connection, unit: Unit, items: dict[str, str]) -> None:
        mark_refused(conn, items, self.run_id, self.today)

    def send_succeeded(self, conn: sa.Connection) -> None:
        forget_refused(conn, self.no_longer_exported)


def still_failing(refused: Mapping[str, Refusal], eans: Collection[str]) -> list[Refusal]:
    """The refusals of products the send still carries (the day's catalog and its removals),
    oldest first: those the next daily send tries again."""
    wanted = set(eans)
    rows = [r for ean, r in refused.items() if ean in wanted]
    return sorted(rows, key=lambda r: (r.first_refused_on, r.ean))


def still_failing_rejects(failing: Collection[Refusal], where: str) -> pd.DataFrame:
    """The rejects file of a Pixee send: every product still failing, with Pixee's last reason
    and the first day it refused it."""
    return item_rejects(
        where,
        "ean",
        (
            (
                r.ean,
                vendor_refusal(
                    "Pixee",
                    f"{r.reason} (failing since {r.first_refused_on}, refused by "
                    f"{r.refusals} send(s))",
                ),
            )
            for r in failing
        ),
    )
