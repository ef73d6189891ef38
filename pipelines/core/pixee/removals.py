"""Products that left the ERP export, and the ones that come back.

The rule, in one place:
- A product is **removed** when Pixee holds it from us (accepted before, not already sent as
  removed) and it is absent from the drop being synced (the newest: an older drop's send is
  superseded before anything is sent). It is sent ONCE as `{"ean", "status": <status>}` with
  PIXEE_REMOVED_STATUS (`inactive` by default, or `archived`); `keep` sends nothing (removed
  products stay as they are in Pixee).
- Removals wait while the drop had rows refused at extract: a refused row may be a removed
  product's (its EAN is not always known), and a bad row must never archive a product.
- **Removal safeguard**: when the removed share of what Pixee holds from us is above
  MAX_REMOVED_SHARE (a truncated export looks like mass removal), the whole send stops until a
  run forces `pixee_products_batch` with a reason.
- A product that **comes back** is sent with the ERP's body, so the ERP's own status
  re-activates it; when the ERP gives it no status, `active` is sent (we set the removal status,
  so we undo it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.core.pixee.synced_state import Held
from pipelines.core.shares import share_against_limit
from pipelines.core.sync.units import Safeguard

REMOVED_STATUSES = ("inactive", "archived")
KEEP = "keep"
# What a returning product gets when the ERP says nothing of its status.
RESTORED_STATUS = "active"
SAFEGUARD = "removed_share"


def removed_status(setting: str) -> str | None:
    """PIXEE_REMOVED_STATUS as the sync uses it: the status to send, or None for `keep`."""
    value = (setting or "").strip().lower()
    if value == KEEP:
        return None
    if value not in REMOVED_STATUSES:
        raise ValueError(
            f"PIXEE_REMOVED_STATUS={setting!r} is not one of {', '.join(REMOVED_STATUSES)}, "
            f"{KEEP}: set it to the status Pixee should give a product the ERP no longer exports"
        )
    return value


@dataclass(frozen=True)
class Removals:
    """What a send does about products that left the ERP export."""

    status: str | None  # what is sent; None: PIXEE_REMOVED_STATUS=keep
    candidates: list[str] = field(default_factory=list)  # removed since Pixee took them
    bodies: list[dict[str, Any]] = field(default_factory=list)  # what goes out
    held_back: str | None = None  # why the candidates are not sent today
    safeguard: Safeguard | None = None
    holding: int = 0  # products Pixee holds from us, live

    @property
    def removed(self) -> dict[str, str]:
        """ean -> status, for the products sent as removed."""
        return {b["ean"]: b["status"] for b in self.bodies}


def plan_removals(
    catalog: Collection[str],
    held: Mapping[str, Held],
    status: str | None,
    *,
    day: dt.date,
    max_share: float,
    rows_refused_at_extract: int = 0,
) -> Removals:
    """The removals of the drop of `day` whose products are `catalog` (EANs)."""
    holding = [ean for ean, h in held.items() if h.removed_status is None]
    present = set(catalog)
    candidates = sorted(ean for ean in holding if ean not in present)
    if not candidates:
        return Removals(status, holding=len(holding))
    if status is None:
        why = f"PIXEE_REMOVED_STATUS={KEEP}: products that left the ERP export stay as they are"
        return Removals(status, candidates, held_back=why, holding=len(holding))
    if rows_refused_at_extract:
        why = (
            f"{rows_refused_at_extract} row(s) of the {day} drop were refused at extract; a "
            "refused row may be a removed product's, so removals wait for a drop read whole"
        )
        return Removals(status, candidates, held_back=why, holding=len(holding))
    share = len(candidates) / len(holding)
    safeguard = Safeguard(
        SAFEGUARD,
        passed=share <= max_share,
        reason=f"{len(candidates)} of {len(holding)} products Pixee holds from the ERP are "
        f"absent from the {day} drop: {share_against_limit(share, max_share, 'MAX_REMOVED_SHARE')}",
        figures={"removed": len(candidates), "held": len(holding), "share": share},
    )
    bodies = [{"ean": ean, "status": status} for ean in candidates]
    return Removals(status, candidates, bodies, safeguard=safeguard, holding=len(holding))


def restored(product: dict[str, Any], held: Held | None) -> dict[str, Any] | None:
    """The body for a product back in the ERP after we sent it as removed, when the ERP gives
    it no status (else None: the ERP's body, status included, is sent as it is)."""
    if held is None or held.removed_status is None or product.get("status"):
        return None
    return {**product, "status": RESTORED_STATUS}
