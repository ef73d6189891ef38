"""Daily demand totals built as blocks stream in, so memory holds totals, not source lines.

Each row becomes one int64 key (day since the range start, then its location x code series),
and a block's order lines are summed per key as it arrives. At the end one sort by (day,
location, code) puts equal keys side by side: totals of a lower priority than the key's highest
(history under a daily drop, an older drop under a newer one) are dropped as superseded, the rest
summed. Location and code stay integer ids until the final frame, whose `location` and `code` are
categoricals with sorted categories (the kept rows' values only).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_EPOCH = dt.date(1970, 1, 1)
_SERIES_BITS = 32
_SERIES_MASK = (1 << _SERIES_BITS) - 1
# Location x code pairs of a block are found with a dense table up to this many cells (a few
# MB), else by hashing.
_DENSE_PAIRS = 1 << 22
# Capacity a column reserves up front: address space only (pages are committed when written),
# so small extracts cost nothing and large ones rarely grow (each growth copies the column).
_RESERVED = 1 << 23
# Order lines of a block are summed by counting over day x series cells up to this many (or 4
# per row), else by hashing.
_DENSE_CELLS = 1 << 20


def epoch_day(day: dt.date) -> int:
    return (day - _EPOCH).days


class _TextIds:
    """Stable ids for texts seen across blocks; Arrow's hash lookup on distinct values only."""

    def __init__(self) -> None:
        self.values = pa.array([], type=pa.string())

    def ids(self, distinct: pd.Index) -> np.ndarray:
        texts = pa.array(distinct.array, type=pa.string())
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        found = pc.index_in(texts, value_set=self.values)
        new = found.is_null().to_numpy(zero_copy_only=False)
        ids = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        if new.any():
            ids[new] = len(self.values) + np.arange(int(new.sum()))
            self.values = pa.concat_arrays([self.values, texts.filter(pa.array(new))])
        return ids


class _PairIds:
    """Stable ids for (location id, code id) pairs, one int64 each."""

    def __init__(self) -> None:
        self.index = pd.Index([], dtype="int64")

    def ids(self, pairs: np.ndarray) -> np.ndarray:
        ids = self.index.get_indexer(pairs)
        new = ids < 0
        if new.any():
            self.index = self.index.append(pd.Index(pairs[new]))
            ids[new] = np.arange(len(self.index) - int(new.sum()), len(self.index))
        return ids.astype(np.int64, copy=False)


class _Column:
    """A 1-D array that grows by appending: spare capacity is only reserved (the OS commits
    pages when written), so a column of any length is one array, never a list of parts to
    concatenate (which would hold the data twice)."""

    def __init__(self, dtype: type, fill: object = None, size: int = 0) -> None:
        self.data = np.empty(max(size, _RESERVED), dtype=dtype)
        if fill is not None:
            self.data[:size] = fill
        self.size = size

    def extend(self, values: np.ndarray | int, count: int | None = None) -> None:
        count = len(values) if count is None else count
        if self.size + count > len(self.data):
            grown = np.empty(max(2 * len(self.data), self.size + count), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : self.size + count] = values
        self.size += count

    def take(self) -> np.ndarray:
        """The values (a view); the column is emptied."""
        data, self.data = self.data[: self.size], np.empty(0, dtype=self.data.dtype)
        self.size = 0
        return data


def _block_totals(
    offset: np.ndarray, rank: np.ndarray, series: np.ndarray, quantity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """One block's rows (day offset, rank of the row's series in `series`, the block's distinct
    series ids; quantity) summed per key: (keys, quantities, source rows or None if one each)."""
    first, span = int(offset.min()), int(offset.max() - offset.min()) + 1
    cells = span * len(series)
    if cells <= max(4 * len(offset), _DENSE_CELLS):
        # Few days x series in the block (a file sorted by date): one counting pass.
        cell = (offset - first) * len(series) + rank
        counts = np.bincount(cell, minlength=cells)
        kept = np.flatnonzero(counts)
        if len(kept) == len(offset):
            return (offset << _SERIES_BITS) | series[rank], quantity, None
        sums = np.bincount(cell, weights=quantity, minlength=cells)[kept]
        keys = ((kept // len(series) + first) << _SERIES_BITS) | series[kept % len(series)]
        return keys, sums, counts[kept].astype(np.int32)
    keys = (offset << _SERIES_BITS) | series[rank]
    codes, distinct = pd.factorize(keys)
    if len(distinct) == len(keys):
        return keys, quantity, None
    sums = np.bincount(codes, weights=quantity, minlength=len(distinct))
    return distinct, sums, np.bincount(codes, minlength=len(distinct)).astype(np.int32)


def _distinct(values: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(each value's rank among the distinct values, the distinct values) for values in
    0..space-1: a presence table when the space is small, else hashing."""
    if space > _DENSE_PAIRS:
        return pd.factorize(values)
    present = np.zeros(space, dtype=bool)
    present[values] = True
    distinct = np.flatnonzero(present)
    rank = np.empty(space, dtype=np.int64)
    rank[distinct] = np.arange(len(distinct))
    return rank[values], distinct


@dataclass
class DemandTotals:
    """Totals of `start..end`, fed block by block with `add`, read once with `frame`."""

    start: dt.date
    end: dt.date
    _locations: _TextIds = field(default_factory=_TextIds)
    _codes: _TextIds = field(default_factory=_TextIds)
    _series: _PairIds = field(default_factory=_PairIds)
    # Per total: key, summed quantity, source rows (None: one each), source priority (None:
    # all the same, `_priority_seen`).
    _keys: _Column = field(default_factory=lambda: _Column(np.int64))
    _sums: _Column = field(default_factory=lambda: _Column(np.float64))
    _rows: _Column | None = None
    _priorities: _Column | None = None
    _priority_seen: int | None = None

    @property
    def first_day(self) -> int:
        return epoch_day(self.start)

    def add(
        self,
        priority: int,
        day: np.ndarray,
        location_codes: np.ndarray,
        locations: pd.Index,
        code_codes: np.ndarray,
        codes: pd.Index,
        quantity: np.ndarray,
    ) -> None:
        """Rows of one block, all within start..end: epoch days, location and code as codes
        into the block's distinct values, quantities (float64)."""
        if len(day) == 0:
            return
        location_ids = self._locations.ids(locations)
        code_ids = self._codes.ids(codes)
        width = max(len(codes), 1)
        pair = location_codes.astype(np.int64) * width + code_codes
        rank, distinct = _distinct(pair, len(locations) * width)
        series = self._series.ids(
            (location_ids[distinct // width] << _SERIES_BITS) | code_ids[distinct % width]
        )
        if len(self._series.index) > _SERIES_MASK:
            raise ValueError("more than 2**32 location x code series in one demand extract")
        keys, sums, rows = _block_totals(day - self.first_day, rank, series, quantity)
        if rows is not None and self._rows is None:
            self._rows = _Column(np.int32, fill=1, size=self._keys.size)
        if self._rows is not None:
            self._rows.extend(1 if rows is None else rows, len(keys))
        if self._priority_seen is None:
            self._priority_seen = priority
        if priority != self._priority_seen and self._priorities is None:
            self._priorities = _Column(np.int32, fill=self._priority_seen, size=self._keys.size)
        if self._priorities is not None:
            self._priorities.extend(priority, len(keys))
        self._keys.extend(keys)
        self._sums.extend(sums)

    def frame(self) -> tuple[pd.DataFrame, int, int]:
        """(daily totals sorted by date, location, code; source rows kept; source rows
        superseded by a higher priority). One sort does it all: equal keys become neighbours,
        those of lower priority than the key's highest are dropped, the rest summed."""
        keys, sums = self._keys.take(), self._sums.take()
        rows = None if self._rows is None else self._rows.take()
        priority = None if self._priorities is None else self._priorities.take()
        order = _SeriesOrder(self)
        # Key -> sort key: same day, then the series' rank in (location, code) order.
        ranks = keys & _SERIES_MASK
        np.take(order.rank, ranks, out=ranks)
        keys >>= _SERIES_BITS
        keys <<= _SERIES_BITS
        keys |= ranks
        del ranks
        if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
            # Timsort: near linear on runs, as a file sorted by date gives.
            sort = np.argsort(keys, kind="stable")
            keys = keys[sort]  # each reassignment frees the unsorted array before the next
            sums = sums[sort]
            rows = None if rows is None else rows[sort]
            priority = None if priority is None else priority[sort]
            del sort
        superseded = 0
        starts = _group_starts(keys)
        if priority is not None and len(starts) < len(keys):
            lengths = np.diff(np.append(starts, len(keys)))
            keep = priority == np.repeat(np.maximum.reduceat(priority, starts), lengths)
            del lengths
            if not keep.all():
                superseded = int((~keep).sum() if rows is None else rows[~keep].sum())
                keys, sums = keys[keep], sums[keep]
                rows = None if rows is None else rows[keep]
                starts = _group_starts(keys)
            del keep
        del priority
        clean_rows = len(keys) if rows is None else int(rows.sum())
        if len(starts) < len(keys):
            sums = np.add.reduceat(sums, starts)
            keys = keys[starts]
        del starts, rows
        return order.frame(keys, sums, self.first_day), clean_rows, superseded


def _group_starts(keys: np.ndarray) -> np.ndarray:
    """Where each run of equal keys starts in sorted `keys`."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


class _SeriesOrder:
    """Series ids ranked by (location, code) text, and the categories for the final frame."""

    def __init__(self, totals: DemandTotals) -> None:
        pairs = totals._series.index.to_numpy()
        self.locations, location_rank = _lexical(totals._locations.values)
        self.codes, code_rank = _lexical(totals._codes.values)
        series_location = location_rank[pairs >> _SERIES_BITS]
        series_code = code_rank[pairs & _SERIES_MASK]
        by_text = np.lexsort((series_code, series_location))
        self.rank = np.empty(len(pairs), dtype=np.int64)
        self.rank[by_text] = np.arange(len(pairs))
        # Per rank: the location's and the code's rank among all values.
        self.rank_location = series_location[by_text]
        self.rank_code = series_code[by_text]

    def frame(self, keys: np.ndarray, sums: np.ndarray, first_day: int) -> pd.DataFrame:
        """The final frame from sorted, distinct sort keys (consumed) and their totals."""
        ranks = keys & _SERIES_MASK
        present = np.zeros(len(self.rank), dtype=bool)
        present[ranks] = True
        # Categories: the locations and codes of the kept rows only (already in text order).
        location, locations = _compact(self.rank_location, present, self.locations)
        code, codes = _compact(self.rank_code, present, self.codes)
        location_codes, code_codes = location[ranks], code[ranks]
        del ranks
        keys >>= _SERIES_BITS
        keys += first_day
        keys *= 86_400 * 10**9  # days -> ns, in place
        return pd.DataFrame(
            {
                "date": keys.view("datetime64[ns]"),
                "location": pd.Categorical.from_codes(location_codes, categories=locations),
                "code": pd.Categorical.from_codes(code_codes, categories=codes),
                "quantity": sums,
            },
            copy=False,
        )


def _lexical(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Values sorted by text, and each value's rank in that order."""
    order = pc.array_sort_indices(values).to_numpy()
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    return values.take(pa.array(order, type=pa.int64())), rank


def _compact(
    rank_value: np.ndarray, present: np.ndarray, values: pa.Array
) -> tuple[np.ndarray, pd.Index]:
    """Per series rank, the code of its value among the values in use; and those values."""
    used = np.zeros(len(values), dtype=bool)
    used[rank_value[present]] = True
    remap = np.cumsum(used) - 1
    categories = pd.Index(values.filter(pa.array(used)).to_pandas(), dtype="str")
    return _narrow(remap[rank_value], len(categories)), categories


def _narrow(codes: np.ndarray, categories: int) -> np.ndarray:
    for dtype in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(dtype).max:
            return codes.astype(dtype)
    return codes


def empty_demand_frame() -> pd.DataFrame:
    return DemandTotals(_EPOCH, _EPOCH).frame()[0]
