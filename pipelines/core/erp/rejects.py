"""Reject rows: one entry per refused source row, with file, line, field, value and reason."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipelines.core.erp.contract import REJECT_COLUMNS

# Field named by a reject whose row could not be split into the header's fields at all.
WHOLE_ROW = "(row)"


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "line" else object) for c in REJECT_COLUMNS}
    )


def reject_frame(
    file: str,
    lines: np.ndarray,
    field: str | np.ndarray,
    values: np.ndarray,
    reasons: str | np.ndarray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": np.full(len(lines), file, dtype=object),
            "line": np.asarray(lines, dtype=np.int64),
            "field": field if isinstance(field, str) else np.asarray(field, dtype=object),
            "value": np.asarray(values, dtype=object),
            "reason": reasons if isinstance(reasons, str) else np.asarray(reasons, dtype=object),
        },
        columns=REJECT_COLUMNS,
    )


def concat_rejects(parts: Sequence[pd.DataFrame], sort: bool = True) -> pd.DataFrame:
    """Parts of one file (or of several, in file order) as one frame, by line within a file."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rejects()
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if sort and len(frame) > 1 and not frame["line"].is_monotonic_increasing:
        files = pd.factorize(frame["file"])[0]  # file order of first appearance
        order = np.lexsort((frame["line"].to_numpy(), files))
        frame = frame.take(order)
    return frame.reset_index(drop=True)
