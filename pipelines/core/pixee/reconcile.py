"""Reconciliation: compare what the ERP says with what Pixee has (the local delta cache).

Two kinds of drift: ERP products Pixee does not have (never created, or deleted there), and
fields whose value in Pixee differs from the ERP's (edited by hand in the PIM, or a failed
update). A field the ERP leaves empty is never drift: we do not send it. Products Pixee accepted
from us and no longer holds as accepted are queued for the next send (`requeue_drift`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.core.pixee.synced_state import Held


@dataclass
class Drift:
    missing: list[str] = field(default_factory=list)
    # (ean, field, erp value, pixee value)
    differing: list[tuple[str, str, object, object]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.missing and not self.differing

    def markdown(self, limit: int = 20) -> str:
        if self.clean:
            return "_Pixee matches the ERP_"
        lines = []
        if self.missing:
            shown = ", ".join(self.missing[:limit])
            more = f" and {len(self.missing) - limit} more" if len(self.missing) > limit else ""
            lines.append(f"**Missing in Pixee ({len(self.missing)}):** {shown}{more}\n")
        if self.differing:
            lines += ["| ean | field | ERP | Pixee |", "|---|---|---|---|"]
            for ean, name, ours, theirs in self.differing[:limit]:
                lines.append(f"| {ean} | {name} | {ours} | {theirs} |".replace("\n", " "))
            if len(self.differing) > limit:
                lines.append(f"| ... | {len(self.differing) - limit} more | | |")
        return "\n".join(lines)


def _empty(values: pd.Series) -> np.ndarray:
    text = values.astype("string")
    return (values.isna() | (text.str.strip() == "")).to_numpy(dtype=bool)


def reconcile(erp: pd.DataFrame, pixee: pd.DataFrame, fields: list[str]) -> Drift:
    """Vectorised per field over the join on EAN."""
    if pixee.empty or "ean" not in pixee:
        return Drift(missing=sorted(erp["ean"].astype(str)))
    theirs = pixee.drop_duplicates("ean", keep="last").set_index(
        pixee["ean"].astype(str).drop_duplicates(keep="last")
    )
    ours = erp.set_index(erp["ean"].astype(str))
    present = ours.index.isin(theirs.index)
    drift = Drift(missing=sorted(ours.index[~present]))
    ours = ours[present]
    theirs = theirs.reindex(ours.index)
    if "name" not in theirs and "title" in theirs:
        theirs = theirs.assign(name=theirs["title"])
    for name in fields:
        if name not in ours or name not in theirs:
            continue
        a, b = ours[name], theirs[name]
        sent = ~_empty(a)
        if pd.api.types.is_numeric_dtype(a):
            b_num = pd.to_numeric(b, errors="coerce")
            same = np.isclose(a.to_numpy(dtype=float), b_num.to_numpy(dtype=float), equal_nan=False)
        else:
            same = (a.astype("string").str.strip() == b.astype("string").str.strip()).fillna(False)
            same = same.to_numpy(dtype=bool)
        for ean in ours.index[sent & ~same]:
            drift.differing.append((ean, name, ours.at[ean, name], theirs.at[ean, name]))
    return drift


# Our clock and Pixee's may differ: an update Pixee stamps within this of our acceptance is our
# own write, not an edit made in the PIM afterwards.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Requeue:
    """What the drift changes in our state: products to send again at the next daily send,
    though the ERP did not change them, and products to forget."""

    missing: list[str] = field(default_factory=list)  # deleted in Pixee, still exported
    edited: dict[str, list[str]] = field(default_factory=dict)  # ean -> fields edited in Pixee
    gone: list[str] = field(default_factory=list)  # deleted in Pixee and no longer exported


def requeue_drift(
    drift: Drift,
    pixee: pd.DataFrame,
    held: Mapping[str, Held],
    day_hashes: Mapping[str, str],
    read_at: dt.datetime | None,
) -> Requeue:
    """Products Pixee no longer holds as it accepted them from us.

    Only products Pixee accepted before the copy's read began (`read_at`), exactly as the day's
    payload has them (`day_hashes`: ean -> content hash), are judged: any other is sent anyway
    (changed, new or refused) or cannot be in the copy yet. A field counts as edited only when
    Pixee updated the product after our acceptance: a value Pixee rewrites itself when it takes
    it (a normalised brand, say) is reported by the check, not resent day after day. A product
    deleted in Pixee that the ERP no longer exports is forgotten (nothing to remove)."""
    if read_at is None:
        return Requeue()

    def accepted_as_today(ean: str) -> Held | None:
        h = held.get(ean)
        if h is None or h.removed_status is not None or h.synced_at >= read_at:
            return None
        return h if day_hashes.get(ean) == h.content_hash else None

    missing = [ean for ean in drift.missing if accepted_as_today(ean) is not None]
    updated_at = _pixee_updated_at(pixee)
    edited: dict[str, list[str]] = {}
    for ean, name, _ours, _theirs in drift.differing:
        h = accepted_as_today(ean)
        stamp = updated_at.get(ean)
        if h is None or (stamp is not None and stamp <= h.synced_at + CLOCK_SKEW):
            continue
        edited.setdefault(ean, []).append(name)
    copied = set(pixee["ean"].astype(str)) if "ean" in pixee else set()
    gone = sorted(
        ean
        for ean, h in held.items()
        if ean not in day_hashes and ean not in copied and h.synced_at < read_at
    )
    return Requeue(missing, edited, gone)


def _pixee_updated_at(pixee: pd.DataFrame) -> dict[str, dt.datetime]:
    if "updated_at" not in pixee or "ean" not in pixee:
        return {}
    stamps = pd.to_datetime(pixee["updated_at"], utc=True, errors="coerce")
    return {
        str(ean): ts.to_pydatetime()
        for ean, ts in zip(pixee["ean"], stamps, strict=True)
        if not pd.isna(ts)
    }
