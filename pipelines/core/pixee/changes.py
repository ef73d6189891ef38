"""Send Pixee only what changed: compare each product's content hash with the hash last accepted
by Pixee, and turn a batch answer into the EANs to mark as synced and the ones that failed.

The synced state (EAN -> hash) is kept by the caller; this module only reads it and says what to
write back, so a product is marked synced only after Pixee accepted that exact body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.pixee.payloads import (
    ACCEPTED_STATUSES,
    MAX_BATCH,
    batches,
    content_hash,
    result_message,
)
from pipelines.core.pixee.removals import restored
from pipelines.core.pixee.synced_state import Held

NO_RESULT_MESSAGE = "no result for this EAN in the batch answer"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class UpsertPlan:
    """What one sync sends. `new + changed + requeued + resent + unchanged` is the catalog size;
    `resent` counts unchanged products sent anyway by a full resync, `requeued` unchanged ones
    sent again because Pixee no longer holds them as accepted (edited or deleted there, or
    corrected by hand). `retried` of those sent are products Pixee refused before, `restored`
    products back in the ERP after being sent as removed (see `removals`)."""

    to_send: list[dict[str, Any]]
    # ean -> content hash of the ERP's product in `to_send`, to mark as synced once accepted.
    hashes: dict[str, str]
    new: int
    changed: int
    unchanged: int
    resent: int = 0
    requeued: int = 0
    retried: int = 0
    restored: int = 0

    @property
    def pending(self) -> bool:
        """It carries products Pixee is known not to hold as the ERP has them (refused, or
        requeued): whatever the last accepted payload was, this one is not held."""
        return bool(self.retried or self.requeued)

    def batches(self, size: int = MAX_BATCH) -> list[list[dict[str, Any]]]:
        return batches(self.to_send, size)


def plan_upserts(
    products: Sequence[dict[str, Any]],
    synced: Mapping[str, str | Held],
    *,
    full_resync: bool = False,
    refused: Collection[str] = frozenset(),
) -> UpsertPlan:
    """Products that are new, whose body differs from the last one Pixee accepted, or that are
    requeued, in input order; `refused` are the EANs Pixee refused and has not accepted since.
    An unchanged catalog plans nothing; `full_resync` sends everything (for example after data
    was edited in Pixee by hand)."""
    to_send: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    new = changed = unchanged = resent = requeued = retried = restored_count = 0
    seen: set[str] = set()
    duplicates: list[str] = []
    for product in products:
        ean = product["ean"]
        if ean in seen:
            duplicates.append(ean)
            continue
        seen.add(ean)
        digest = content_hash(product)
        held = synced.get(ean)
        if isinstance(held, str):
            held = Held(held, _EPOCH)
        if held is None:
            new += 1
        elif held.content_hash != digest:
            changed += 1
        elif held.requeued:
            requeued += 1
        elif full_resync:
            resent += 1
        else:
            unchanged += 1
            continue
        body = restored(product, held)
        restored_count += body is not None
        retried += ean in refused
        to_send.append(body or product)
        hashes[ean] = digest
    if duplicates:
        # Two bodies for one EAN in a run: which one Pixee keeps would depend on batch order.
        raise ValueError(f"{len(duplicates)} duplicate EAN(s) in products, e.g. {duplicates[:5]}")
    return UpsertPlan(
        to_send, hashes, new, changed, unchanged, resent, requeued, retried, restored_count
    )


@dataclass(frozen=True)
class BatchOutcome:
    """One batch request's effect: EANs Pixee accepted (ean -> hash, to mark as synced) and EANs
    it did not (ean -> the vendor's message, for the failure report)."""

    accepted: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    created: int = 0
    updated: int = 0

    @classmethod
    def request_failed(cls, batch: Sequence[Mapping[str, Any]], message: str) -> BatchOutcome:
        """The whole request failed (after retries): nothing is marked synced, every product
        carries the request's error."""
        return cls(failed={str(p["ean"]): message for p in batch})


def apply_batch_result(
    batch: Sequence[Mapping[str, Any]], result: Mapping[str, Any]
) -> BatchOutcome:
    """Match Pixee's per-item results (`result` is the answer's `data`) to the products sent.

    A product counts as accepted only with a "created"/"updated" result; an error, an unknown
    status, or no result at all counts as failed, so the next plan sends it again. Results are
    matched by EAN, ignoring leading zeros (same GTIN), in case Pixee pads an EAN-8 to 13 digits.
    """
    by_gtin: dict[str, Mapping[str, Any]] = {}
    items = result.get("results")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or item.get("ean") in (None, ""):
            continue
        key = _gtin_key(item["ean"])
        # Two results for one EAN: a failure wins, so a product is never marked synced wrongly.
        if key in by_gtin and by_gtin[key].get("status") not in ACCEPTED_STATUSES:
            continue
        by_gtin[key] = item

    accepted: dict[str, str] = {}
    failed: dict[str, str] = {}
    created = updated = 0
    for product in batch:
        ean = str(product["ean"])
        item = by_gtin.get(_gtin_key(ean))
        if item is None:
            failed[ean] = NO_RESULT_MESSAGE
            continue
        status = item.get("status")
        if status in ACCEPTED_STATUSES:
            accepted[ean] = content_hash(product)
            created += status == "created"
            updated += status == "updated"
        else:
            failed[ean] = result_message(item)
    return BatchOutcome(accepted, failed, created, updated)


def _gtin_key(ean: object) -> str:
    return str(ean).strip().lstrip("0")
