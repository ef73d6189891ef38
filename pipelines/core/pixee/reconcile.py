"""Reconciliation: compare what the ERP says with what Pixee has (the local delta cache).

Two kinds of drift: ERP products Pixee does not have, and fields whose value in Pixee differs
from the ERP's (edited by hand in the PIM, or a failed update). A field the ERP leaves empty is
never drift: we do not send it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


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
