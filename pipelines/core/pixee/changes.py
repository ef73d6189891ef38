"""Send Pixee only what changed: compare each product's content hash with the hash last accepted
by Pixee, and turn a batch answer into the EANs to mark as synced and the ones that failed.

The synced state (EAN -> hash) is kept by the caller; this module only reads it and says what to
write back, so a product is marked synced only after Pixee accepted that exact body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.pixee.payloads import (
    ACCEPTED_STATUSES,
    MAX_BATCH,
    batches,
    content_hash,
    result_message,
)

NO_RESULT_MESSAGE = "no result for this EAN in the batch answer"


@dataclass(frozen=True)
class UpsertPlan:
    """What one sync sends. `new + changed + resent + unchanged` is the catalog size;
    `resent` counts unchanged products sent anyway by a full resync."""

    to_send: list[dict[str, Any]]
    # ean -> content hash of the body in `to_send`, to mark as synced once accepted.
    hashes: dict[str, str]
    new: int
    changed: int
    unchanged: int
    resent: int = 0

    def batches(self, size: int = MAX_BATCH) -> list[list[dict[str, Any]]]:
        return batches(self.to_send, size)


def plan_upserts(
    products: Sequence[dict[str, Any]],
    synced: Mapping[str, str],
    *,
    full_resync: bool = False,
) -> UpsertPlan:
    """Products that are new or whose body differs from the last one Pixee accepted, in input
    order. An unchanged catalog plans nothing; `full_resync` sends everything (for example after
    data was edited in Pixee by hand)."""
    to_send: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    new = changed = unchanged = resent = 0
    seen: set[str] = set()
    duplicates: list[str] = []
    for product in products:
        ean = product["ean"]
        if ean in seen:
            duplicates.append(ean)
            continue
        seen.add(ean)
        digest = content_hash(product)
        previous = synced.get(ean)
        if previous == digest:
            if not full_resync:
                unchanged += 1
                continue
            resent += 1
        elif previous is None:
            new += 1
        else:
            changed += 1
        to_send.append(product)
        hashes[ean] = digest
    if duplicates:
        # Two bodies for one EAN in a run: which one Pixee keeps would depend on batch order.
        raise ValueError(f"{len(duplicates)} duplicate EAN(s) in products, e.g. {duplicates[:5]}")
    return UpsertPlan(to_send, hashes, new, changed, unchanged, resent)


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
