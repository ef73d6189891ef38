"""Column encodings the Paqtana body builders share: integer ranks in text order (so bodies are
ordered by location and code whatever the row order), and float values without copies."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def require_columns(frame: pd.DataFrame, names: Iterable[str], what: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def lexical_factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes whose order is the text order of the values (-1 for missing), plus the
    values. A categorical whose categories are already in text order (as extraction makes
    them) gives its own codes, not a copy; others are re-ranked."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.asarray(column.cat.categories.astype(str), dtype=object)
        codes = column.array.codes  # the categorical's own array: `.cat.codes` copies it
        if pd.Index(categories).is_monotonic_increasing:  # categories are distinct
            return codes, categories
        by_text = np.argsort(categories, kind="stable")
        # One take per row; the extra last slot maps a missing value's code -1 to -1.
        rank = np.full(len(categories) + 1, -1, dtype=np.int32)
        rank[by_text] = np.arange(len(categories), dtype=np.int32)
        return rank[codes], categories[by_text]
    codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def float_values(column: pd.Series) -> np.ndarray:
    """float64 per row, NaN for missing; the column's own array when it already is one."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return column.to_numpy(dtype="float64", na_value=np.nan)
