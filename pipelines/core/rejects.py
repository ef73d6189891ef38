"""The rejects-file shape, built in one place: one row per refused source row or vendor item,
with `file, line, field, value, reason`. Extraction, every load and every vendor refusal build
their rows here, so every rejects file has the same columns, the same `line` type, and one
wording per reason."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

# Columns every rejects file carries, in this order.
REJECT_COLUMNS = ["file", "line", "field", "value", "reason"]
# Physical line in the source file; missing for a vendor's refusal of an item it was sent.
LINE_DTYPE = "Int64"
# Field named by a reject whose row could not be split into the header's fields at all.
WHOLE_ROW = "(row)"


def empty_rejects() -> pd.DataFrame:
    """A rejects frame with no row (a copy: each block of a file asks for one or more, and
    building it takes 30 times as long)."""
    return _EMPTY.copy()


_EMPTY = pd.DataFrame(
    {c: pd.Series(dtype=LINE_DTYPE if c == "line" else object) for c in REJECT_COLUMNS}
)


def reject_frame(
    file: str,
    lines: np.ndarray,
    field: str | np.ndarray,
    values: np.ndarray,
    reasons: str | np.ndarray,
) -> pd.DataFrame:
    """Rows of one source file."""
    return pd.DataFrame(
        {
            "file": np.full(len(lines), file, dtype=object),
            "line": pd.array(np.asarray(lines, dtype=np.int64), dtype=LINE_DTYPE),
            "field": field if isinstance(field, str) else np.asarray(field, dtype=object),
            "value": np.asarray(values, dtype=object),
            "reason": reasons if isinstance(reasons, str) else np.asarray(reasons, dtype=object),
        },
        columns=REJECT_COLUMNS,
    )


def vendor_refusal(vendor: str, message: str) -> str:
    """The one wording of a reason a vendor gave for refusing what it was sent."""
    return f"refused by {vendor}: {message}"


def item_rejects(where: str, field: str, refusals: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Items a vendor (or a safeguard before it) refused: `where` names the endpoint in the
    `file` column, each (value, reason) pair is one row, and `line` is missing."""
    pairs = list(refusals)
    if not pairs:
        return empty_rejects()
    return pd.DataFrame(
        {
            "file": where,
            "line": pd.array([pd.NA] * len(pairs), dtype=LINE_DTYPE),
            "field": field,
            "value": [str(v) for v, _ in pairs],
            "reason": [r for _, r in pairs],
        },
        columns=REJECT_COLUMNS,
    )


def concat_rejects(parts: Sequence[pd.DataFrame], sort: bool = True) -> pd.DataFrame:
    """Parts of one file (or of several, in file order) as one frame, by line within a file."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_rejects()
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.astype({"line": LINE_DTYPE})
    if sort and len(frame) > 1 and not frame["line"].is_monotonic_increasing:
        files = pd.factorize(frame["file"])[0]  # file order of first appearance
        lines = frame["line"].to_numpy(dtype=np.int64, na_value=-1)
        order = np.lexsort((lines, files))
        frame = frame.take(order)
    return frame.reset_index(drop=True)


class RejectCollector:
    """Rows rejected while building, first reason wins; the rest stay in `remaining`. File and
    line come from optional `source_file` / `source_line` columns of the input."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.source = frame
        # Made at the first reject: nothing refused (the usual build) needs no per-row mask
        # (10 MB at 10M rows, allocated where a demand build peaks).
        self._remaining: np.ndarray | None = None
        self.parts: list[pd.DataFrame] = []

    @property
    def remaining(self) -> np.ndarray:
        """Per row: not rejected."""
        if self._remaining is None:
            return np.ones(len(self.source), dtype=bool)
        return self._remaining

    @property
    def refused(self) -> np.ndarray | None:
        """Per row: rejected; None when no row is."""
        return None if self._remaining is None else ~self._remaining

    def reject_missing(self, mask: np.ndarray, column: str) -> None:
        self.reject(
            mask, column, lambda rows: np.full(len(rows), "", dtype=object), f"{column} is missing"
        )

    def reject(
        self,
        mask: np.ndarray,
        field_name: str,
        values: Callable[[np.ndarray], np.ndarray],
        reasons: str | Callable[[np.ndarray], np.ndarray],
    ) -> None:
        """`values` / `reasons`: of the rejected row positions (or one reason for all)."""
        rows = np.flatnonzero(mask if self._remaining is None else mask & self._remaining)
        if len(rows) == 0:
            return
        if self._remaining is None:
            self._remaining = np.ones(len(self.source), dtype=bool)
        self._remaining[rows] = False
        self.parts.append(
            pd.DataFrame(
                {
                    "_row": rows,
                    "field": field_name,
                    "value": np.asarray(values(rows), dtype=object),
                    "reason": reasons(rows) if callable(reasons) else reasons,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_rejects()
        parts = pd.concat(self.parts, ignore_index=True).sort_values("_row", kind="stable")
        rows = parts["_row"].to_numpy()
        if "source_file" in self.source:
            files = self.source["source_file"].to_numpy(dtype=object)[rows]
            files = np.where(pd.isna(files), "", files)
        else:
            files = np.full(len(rows), "", dtype=object)
        if "source_line" in self.source:
            lines = pd.array(
                self.source["source_line"].to_numpy(dtype=object)[rows], dtype=LINE_DTYPE
            )
        else:
            lines = pd.array([pd.NA] * len(rows), dtype=LINE_DTYPE)
        values = parts["value"].to_numpy(dtype=object)
        values = np.where(pd.isna(values), "", values).astype(str)
        return pd.DataFrame(
            {
                "file": pd.array(files.astype(str), dtype=object),
                "line": lines,
                "field": parts["field"].to_numpy(dtype=object),
                "value": pd.array(values, dtype=object),
                "reason": parts["reason"].to_numpy(dtype=object),
            },
            columns=REJECT_COLUMNS,
        )
