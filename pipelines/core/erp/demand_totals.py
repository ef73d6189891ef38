"""Daily demand totals built as blocks stream in, so memory holds totals, not source lines.

A block's rows get a series id (location x code, numbered as first seen) and are grouped by day,
one piece per block and day with the block's source priority (its ids a `range` when they run
consecutively, its sums in the narrowest float that holds them exactly: a history sorted by
date or by item then takes 2 bytes a total); order lines are summed in the block when one
counting pass does it (a file sorted by date), else when their day is. `frame`
then writes the days in order, each straight into the final columns while its pieces are
released: a day's totals go in (location, code) text order (placed by rank when most series
have one, else one sort of that day's totals, never one over the whole range), those of a lower
priority than their key's highest are dropped as superseded, the rest summed. The frame's
`location` and `code` are categoricals with sorted categories (the kept rows' values only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.free_memory import release_free_memory
from pipelines.core.ordered_pool import ordered_map
from pipelines.core.packed_sort import bits_for, run_starts, smallest_int, sorted_with_order

_EPOCH = dt.date(1970, 1, 1)
_NS_PER_DAY = 86_400 * 10**9
_SERIES_BITS = 32
_SERIES_MASK = (1 << _SERIES_BITS) - 1
_NOT_SEEN = np.iinfo(np.int32).max  # a block's rows fit in int32 positions
# Location x code pairs of a block are found with a dense table up to this many cells (a few
# MB), else by hashing.
_DENSE_PAIRS = 1 << 22
# Order lines of a block are summed by counting over day x series cells up to this many (or 4
# per row); else the block's rows are only grouped by day.
_DENSE_CELLS = 1 << 20
# A day's pieces are summed per series and source once they hold more totals than this many
# per series (plus a few), so order lines spread over many blocks cost memory only once.
_COMPACT_AT = 2
_COMPACT_MIN = 1 << 16
# Totals written to the final columns between two releases of freed memory (see `frame`).
_RELEASE_EVERY = 1 << 20


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

    def ids(
        self, pairs: np.ndarray, first_row: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> np.ndarray:
        """Each pair's id. New pairs get the next ids in the order of `first_row` (given the
        positions of the new pairs in `pairs`, the row each first appears on), else as given."""
        ids = self.index.get_indexer(pairs)
        new = np.flatnonzero(ids < 0)
        if len(new):
            if first_row is not None and len(new) > 1:
                new = new[np.argsort(first_row(new))]
            start = len(self.index)
            self.index = self.index.append(pd.Index(pairs[new]))
            ids[new] = np.arange(start, len(self.index))
        return ids.astype(np.int64, copy=False)


class _Piece(NamedTuple):
    """One block's totals of one day: series ids (a `range` when they are consecutive, see
    `_as_range`), their sums (the narrowest float that holds them exactly, see `_narrow_sums`),
    source rows per total (None: one each), and the block's source priority."""

    priority: int
    series: np.ndarray | range
    sums: np.ndarray
    rows: np.ndarray | None

    @property
    def source_rows(self) -> int:
        return len(self.series) if self.rows is None else int(self.rows.sum())


def _block_pieces(
    day: np.ndarray, ids: np.ndarray, quantity: np.ndarray, series: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
    """One block's rows (day offset, series id, quantity) as one piece per day, in day order:
    (day, series ids, quantities, source rows per total or None if one each). Order lines are
    summed here when that is one counting pass (few days x series in the block, as in a file
    sorted by date); otherwise the rows are only grouped by day, and summed when the day is."""
    first = int(day.min())
    span = int(day.max()) - first + 1
    bits = bits_for(series)
    if span << bits <= max(4 * len(day), _DENSE_CELLS):
        cell = day.astype(np.int64)
        cell -= first
        cell <<= bits
        cell |= ids
        if bool((cell[1:] > cell[:-1]).all()):
            # Already one row per (day, series), in that order (an export sorted by date and
            # item, its series first seen in that order): nothing to sum or place, 3 ms
            # instead of 15 for a block of 650k rows.
            kept, sums, rows = cell, quantity, None
            kept_ids = ids.astype(np.int32, copy=False)
        else:
            counts = np.bincount(cell, minlength=span << bits)
            kept = np.flatnonzero(counts)
            if len(kept) == len(day):
                by_cell = np.empty(span << bits, dtype=np.float64)
                by_cell[cell] = quantity  # keeps each value exactly as read (-0.0 too)
                sums, rows = by_cell[kept], None
            else:
                sums = np.bincount(cell, weights=quantity, minlength=span << bits)[kept]
                rows = counts[kept].astype(np.int32)
            kept_ids = (kept & ((1 << bits) - 1)).astype(np.int32)
        # A day's ids are a range, or a copy: a view would keep the whole block's array while
        # the totals stream in (in a file sorted by date, the block's first and last days are
        # partial, so not ranges).
        for offset, part in _day_runs(np.bincount(kept >> bits, minlength=span), first):
            ids_of_day = _as_range(kept_ids[part], increasing=True)
            if isinstance(ids_of_day, np.ndarray):
                ids_of_day = ids_of_day.copy()
            day_rows = None if rows is None else rows[part].copy()
            yield offset, ids_of_day, sums[part], day_rows
        return
    # A stable counting sort by day (numpy radix-sorts 8 and 16 bit integers); each day's rows
    # are gathered into arrays of their own, so `frame` frees each day as it writes it.
    order = np.argsort(day, kind="stable") if day.dtype.itemsize <= 2 else sorted_with_order(day)[1]
    for offset, part in _day_runs(np.bincount(day), 0):
        rows_of_day = order[part]
        yield offset, _as_range(ids[rows_of_day]), quantity[rows_of_day], None


def _as_range(ids: np.ndarray, increasing: bool = False) -> np.ndarray | range:
    """Series ids as a `range` when they are consecutive and ascending, else as they are. An
    export sorted by date, or by item and location, numbers its series in the order every day
    repeats, so each day of a block holds a run of consecutive ids: kept as a range, the day
    totals of a 10M-row history take 2 bytes each instead of 8. `increasing`: the ids are
    known to be strictly ascending (then the ends alone tell)."""
    if len(ids) == 0 or int(ids[-1]) - int(ids[0]) != len(ids) - 1:
        return ids
    if not increasing and not bool((np.diff(ids) == 1).all()):
        return ids
    return range(int(ids[0]), int(ids[-1]) + 1)


def _series_ids(series: np.ndarray | range) -> np.ndarray:
    """A piece's series ids as an array."""
    if isinstance(series, range):
        return np.arange(series.start, series.stop, dtype=np.int32)
    return series


def _day_runs(per_day: np.ndarray, first: int) -> Iterator[tuple[int, slice]]:
    """(day, its rows) of each day with rows, given the rows per day from `first` on, for rows
    grouped by day in order."""
    present = np.flatnonzero(per_day)
    ends = np.cumsum(per_day[present])
    starts = ends - per_day[present]
    for day, start, end in zip(
        (present + first).tolist(), starts.tolist(), ends.tolist(), strict=True
    ):
        yield day, slice(start, end)


class _SeriesIds:
    """Stable ids for location x code series, numbered in the order rows first show them. A
    block's rows find theirs through a table over the block's (location, code) code pairs, kept
    between blocks. That numbering makes each day of an export sorted by date, or by item and
    location, a run of consecutive ids in row order (see `_as_range`)."""

    def __init__(self) -> None:
        self.pairs = _PairIds()
        self._seen = np.zeros(0, dtype=bool)  # all False between blocks
        self._table = np.zeros(0, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.pairs.index)

    def drop_tables(self) -> None:
        """Let the lookup tables go once no block is to come (the pairs stay)."""
        self._seen = np.zeros(0, dtype=bool)
        self._table = np.zeros(0, dtype=np.int32)

    def ids(
        self,
        location_ids: np.ndarray,
        location_codes: np.ndarray,
        code_ids: np.ndarray,
        code_codes: np.ndarray,
    ) -> np.ndarray:
        """Per row, its series id (int32); `*_ids` are the global ids of the block's values."""
        code_bits = bits_for(len(code_ids))
        space = len(location_ids) << code_bits
        pair = location_codes.astype(np.int64) << code_bits
        pair |= code_codes
        if space > _DENSE_PAIRS:
            rank, distinct = pd.factorize(pair)  # distinct in the order rows show them
            return self._register(location_ids, code_ids, code_bits, distinct)[rank]
        if len(self._seen) < space:
            self._seen = np.zeros(space, dtype=bool)
            self._table = np.zeros(space, dtype=np.int32)
        self._seen[pair] = True
        distinct = np.flatnonzero(self._seen[:space])  # in code order, not row order
        self._seen[distinct] = False

        def first_row(at: np.ndarray) -> np.ndarray:
            # The table's cells of this block's pairs are written with their ids right after,
            # so they serve as scratch for the first row of each pair first.
            self._table[distinct] = _NOT_SEEN
            np.minimum.at(self._table, pair, np.arange(len(pair), dtype=np.int32))
            return self._table[distinct[at]]

        self._table[distinct] = self._register(
            location_ids, code_ids, code_bits, distinct, first_row
        )
        return self._table[pair]

    def _register(
        self,
        location_ids: np.ndarray,
        code_ids: np.ndarray,
        code_bits: int,
        pairs: np.ndarray,
        first_row: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        keys = (location_ids[pairs >> code_bits] << _SERIES_BITS) | code_ids[
            pairs & ((1 << code_bits) - 1)
        ]
        ids = self.pairs.ids(keys, first_row)
        if len(self) > np.iinfo(np.int32).max:
            raise ValueError("more than 2**31 location x code series in one demand extract")
        return ids.astype(np.int32)


@dataclass
class DemandTotals:
    """Totals of `start..end`, fed block by block with `add`, read once with `frame`."""

    start: dt.date
    end: dt.date
    _locations: _TextIds = field(default_factory=_TextIds)
    _codes: _TextIds = field(default_factory=_TextIds)
    _series: _SeriesIds = field(default_factory=_SeriesIds)
    # Day offset (from `start`) -> that day's pieces, in the order the blocks came, and their
    # number of totals.
    _days: dict[int, list[_Piece]] = field(default_factory=dict)
    _entries: dict[int, int] = field(default_factory=dict)

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
        """Rows of one block, all within start..end: days since `start`, location and code as
        codes into the block's distinct values, quantities (float64)."""
        if len(day) == 0:
            return
        ids = self._series.ids(
            self._locations.ids(locations),
            location_codes,
            self._codes.ids(codes),
            code_codes,
        )
        for offset, series, sums, rows in _block_pieces(day, ids, quantity, len(self._series)):
            pieces = self._days.setdefault(offset, [])
            pieces.append(_Piece(priority, series, _narrow_sums(sums), rows))
            entries = self._entries.get(offset, 0) + len(series)
            if entries > _COMPACT_AT * len(self._series) + _COMPACT_MIN:
                # More totals than series: order lines of one key in several blocks. Summing
                # them now keeps memory at the totals, not the lines.
                pieces[:] = _compacted(pieces)
                entries = sum(len(p.series) for p in pieces)
            self._entries[offset] = entries

    def frame(self) -> tuple[pd.DataFrame, int, int]:
        """(daily totals sorted by date, location, code; source rows kept; source rows
        superseded by a higher priority). The totals are consumed."""
        self._series.drop_tables()  # 13 MB at 100k series, not needed to write the frame
        order = _SeriesOrder(self)
        columns = _FrameColumns(
            sum(len(p.series) for pieces in self._days.values() for p in pieces), order
        )
        clean_rows = superseded = released = 0
        days = sorted(self._days)
        merged = ordered_map(lambda day: _day_totals(self._days.pop(day), order.rank), days)
        for day, (ranks, sums, kept, dropped) in zip(days, merged, strict=True):
            columns.append(self.first_day + day, ranks, sums)
            clean_rows += kept
            superseded += dropped
            if columns.size - released >= _RELEASE_EVERY:
                # The days written so far free their pieces: give that memory back before
                # the next days' columns grow into new pages.
                release_free_memory()
                released = columns.size
        return columns.frame(), clean_rows, superseded


def _day_totals(
    pieces: list[_Piece], rank_of_series: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """One day's pieces as (series ranks in text order, totals, source rows kept, source rows
    superseded): where a series has several totals, only those of its highest priority count,
    summed (in the order the blocks came)."""
    ranks = _of_series(rank_of_series, pieces)
    sums = _sums(pieces)
    kept = sum(p.source_rows for p in pieces)
    one_priority = len({p.priority for p in pieces}) == 1
    if one_priority and 2 * len(ranks) >= len(rank_of_series):
        # Most series have a total this day: place them by rank, no sort.
        counts = np.bincount(ranks, minlength=len(rank_of_series))
        present = np.flatnonzero(counts)
        if len(present) == len(ranks):
            by_rank = np.empty(len(rank_of_series), dtype=np.float64)
            by_rank[ranks] = sums
            return present, by_rank[present], kept, 0
        totals = np.bincount(ranks, weights=sums, minlength=len(rank_of_series))
        return present, totals[present], kept, 0
    ranks, order = sorted_with_order(ranks)
    sums = sums[order]
    starts = run_starts(ranks)
    if len(starts) == len(ranks):
        return ranks, sums, kept, 0
    superseded = 0
    if not one_priority:
        priority = np.repeat([p.priority for p in pieces], [len(p.series) for p in pieces])
        priority = priority[order]
        lengths = np.diff(np.append(starts, len(ranks)))
        lower = priority != np.repeat(np.maximum.reduceat(priority, starts), lengths)
        if lower.any():
            superseded = int(_source_rows(pieces)[order][lower].sum())
            ranks, sums = ranks[~lower], sums[~lower]
            starts = run_starts(ranks)
    return ranks[starts], np.add.reduceat(sums, starts), kept - superseded, superseded


def _compacted(pieces: list[_Piece]) -> list[_Piece]:
    """The pieces of one day with those of each priority merged into one, summed per series."""
    by_priority: dict[int, list[_Piece]] = {}
    for piece in pieces:
        by_priority.setdefault(piece.priority, []).append(piece)
    merged = []
    for priority, same in by_priority.items():
        ids, order = sorted_with_order(_joined_series(same))
        starts = run_starts(ids)
        merged.append(
            _Piece(
                priority,
                _as_range(ids[starts].astype(np.int32), increasing=True),
                _narrow_sums(np.add.reduceat(_sums(same)[order], starts)),
                np.add.reduceat(_source_rows(same)[order], starts),
            )
        )
    return merged


def _narrow_sums(sums: np.ndarray) -> np.ndarray:
    """The sums in the narrowest float that holds every one of them exactly, else as they are:
    float16 holds whole units up to 2048 and halves up to 1024 (a day's demand of one item at
    one location mostly is), float32 whole and half units far beyond; 0.1 is neither. A
    history's sums then take 2 or 4 bytes each, not 8."""
    for dtype in (np.float16, np.float32):
        if sums.dtype.itemsize <= np.dtype(dtype).itemsize:
            break
        with np.errstate(over="ignore"):  # too large for float16: inf, so not equal
            narrow = sums.astype(dtype)
        if np.array_equal(narrow, sums):
            return narrow
    return sums if sums.base is None else sums.copy()  # a view would keep a block's array


def _sums(pieces: list[_Piece]) -> np.ndarray:
    """The pieces' sums end to end, as float64 (summed at full precision)."""
    return _joined(pieces, "sums").astype(np.float64, copy=False)


def _of_series(table: np.ndarray, pieces: list[_Piece]) -> np.ndarray:
    """`table[id]` for each of the pieces' series ids, end to end: a range's ids are a slice of
    the table (a view when it is the only piece), other ids a gather."""
    parts = [
        table[p.series.start : p.series.stop] if isinstance(p.series, range) else table[p.series]
        for p in pieces
    ]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _joined_series(pieces: list[_Piece]) -> np.ndarray:
    """The pieces' series ids, end to end."""
    parts = [_series_ids(p.series) for p in pieces]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _joined(pieces: list[_Piece], name: str) -> np.ndarray:
    """One field of the pieces, end to end (the array itself for one piece)."""
    parts = [getattr(p, name) for p in pieces]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _source_rows(pieces: list[_Piece]) -> np.ndarray:
    """Source rows per total of the pieces, end to end."""
    return np.concatenate(
        [np.ones(len(p.series), np.int32) if p.rows is None else p.rows for p in pieces]
    )


class _SeriesOrder:
    """Series ids ranked by (location, code) text, and per rank the frame's category codes."""

    def __init__(self, totals: DemandTotals) -> None:
        pairs = totals._series.pairs.index.to_numpy()
        locations, location_rank = _lexical(totals._locations.values)
        codes, code_rank = _lexical(totals._codes.values)
        series_location = location_rank[pairs >> _SERIES_BITS]
        series_code = code_rank[pairs & _SERIES_MASK]
        by_text = np.lexsort((series_code, series_location))
        self.rank = np.empty(len(pairs), dtype=np.int64)
        self.rank[by_text] = np.arange(len(pairs))
        # Categories: the values some series uses (already in text order); every series has at
        # least one total, a value of a block's refused rows only may have none.
        self.location_codes, self.locations = _compact(series_location[by_text], locations)
        self.code_codes, self.codes = _compact(series_code[by_text], codes)


class _FrameColumns:
    """The final columns, written day by day in order."""

    def __init__(self, capacity: int, order: _SeriesOrder) -> None:
        self.order = order
        self.dates = np.empty(capacity, dtype=np.int64)
        self.location = np.empty(capacity, dtype=order.location_codes.dtype)
        self.code = np.empty(capacity, dtype=order.code_codes.dtype)
        self.quantity = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def append(self, epoch_day: int, ranks: np.ndarray, sums: np.ndarray) -> None:
        rows = slice(self.size, self.size + len(ranks))
        self.dates[rows] = epoch_day * _NS_PER_DAY
        np.take(self.order.location_codes, ranks, out=self.location[rows])
        np.take(self.order.code_codes, ranks, out=self.code[rows])
        self.quantity[rows] = sums
        self.size += len(ranks)

    def frame(self) -> pd.DataFrame:
        kept = slice(0, self.size)
        return pd.DataFrame(
            {
                "date": self.dates[kept].view("datetime64[ns]"),
                "location": pd.Categorical.from_codes(
                    self.location[kept], categories=self.order.locations
                ),
                "code": pd.Categorical.from_codes(self.code[kept], categories=self.order.codes),
                "quantity": self.quantity[kept],
            },
            copy=False,
        )


def _lexical(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Values sorted by text, and each value's rank in that order."""
    order = pc.array_sort_indices(values).to_numpy()
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.arange(len(values))
    return values.take(pa.array(order, type=pa.int64())), rank


def _compact(rank_value: np.ndarray, values: pa.Array) -> tuple[np.ndarray, pd.Index]:
    """Per series rank, the code of its value among the values in use; and those values."""
    used = np.zeros(len(values), dtype=bool)
    used[rank_value] = True
    remap = np.cumsum(used) - 1
    categories = pd.Index(values.filter(pa.array(used)).to_pandas(), dtype="str")
    return remap[rank_value].astype(smallest_int(len(categories))), categories


def empty_demand_frame() -> pd.DataFrame:
    return DemandTotals(_EPOCH, _EPOCH).frame()[0]
