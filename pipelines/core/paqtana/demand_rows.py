"""Demand rows in the order the bodies need them: each row's date as a day offset, the rows split
into groups of whole series (see `demand.py` for what the groups are), and one integer sort key
per row (location, code, day) so one `np.sort` per group orders it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.core.ordered_pool import ordered_map
from pipelines.core.packed_sort import bits_for, run_starts, smallest_uint, sorted_with_order

# Rows converted per pass where a whole-column temporary would cost too much memory.
_ROWS_PER_PASS = 1 << 20
# A missing date, as numpy stores it; ticks of each datetime64 unit in a day.
_NAT = np.iinfo(np.int64).min
_TICKS_PER_DAY = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400 * 10**6}
_TICKS_PER_DAY["ns"] = 86_400 * 10**9


@dataclass
class DemandGroup:
    """One group's rows in (series, day) order: key = series << day bits | day offset, and each
    row's quantity (a code into the distinct quantities, or the value itself)."""

    keys: np.ndarray
    quantity: np.ndarray


def datetime_values(column: pd.Series) -> np.ndarray:
    """The dates as datetime64 values (a view of the column where possible)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(column.dtype):
        raise TypeError(f"demand 'date' must be datetime64, not {column.dtype}")
    return column.to_numpy()


@dataclass(frozen=True)
class Days:
    """Each row's date as days since the first date (narrow integers), the number of days from
    the first date to the last, and which rows have no date (None: every row has one)."""

    first: int
    count: int
    offsets: np.ndarray
    missing: np.ndarray | None

    @classmethod
    def of(cls, values: np.ndarray) -> Days:
        """Raises on times of day: truncating them could merge two rows into one day."""
        unit, step = np.datetime_data(values.dtype)
        if unit not in _TICKS_PER_DAY:
            return cls.of(values.astype("datetime64[s]"))
        per_day = _TICKS_PER_DAY[unit] // step
        ticks = values.view(np.int64)
        if len(ticks) and ticks[0] != _NAT and bool((ticks[1:] >= ticks[:-1]).all()):
            return cls._of_sorted(ticks, per_day)  # as extraction writes them: by date first
        missing = ticks == _NAT
        low, high, not_midnight = None, None, 0
        for rows in _slices(len(ticks)):
            part = ticks[rows][~missing[rows]]
            day = part // per_day
            not_midnight += int(np.count_nonzero(day * per_day != part))
            if len(day):
                low = int(day.min()) if low is None else min(low, int(day.min()))
                high = int(day.max()) if high is None else max(high, int(day.max()))
        _refuse_times_of_day(not_midnight)
        low, high = (0, 0) if low is None else (low, high)
        offsets = np.zeros(len(ticks), dtype=smallest_uint(high - low + 1))
        for rows in _slices(len(ticks)):
            day = ticks[rows] // per_day - low
            day[missing[rows]] = 0
            offsets[rows] = day
        return cls(low, high - low + 1, offsets, missing if missing.any() else None)

    @classmethod
    def _of_sorted(cls, ticks: np.ndarray, per_day: int) -> Days:
        """Dates in order: worked out once per distinct date."""
        starts = run_starts(ticks)
        distinct = ticks[starts]
        lengths = np.diff(np.append(starts, len(ticks)))
        _refuse_times_of_day(int(lengths[distinct % per_day != 0].sum()))
        days = distinct // per_day
        first, count = int(days[0]), int(days[-1] - days[0]) + 1
        offsets = np.repeat((days - first).astype(smallest_uint(count)), lengths)
        return cls(first, count, offsets, None)


def _refuse_times_of_day(rows: int) -> None:
    if rows:
        raise ValueError(f"{rows} demand dates are not at midnight")


def _slices(count: int, rows: int = _ROWS_PER_PASS) -> Iterator[slice]:
    for start in range(0, count, rows):
        yield slice(start, min(start + rows, count))


@dataclass(frozen=True)
class KeyLayout:
    """A row's sort key within its group: (location rank, code rank, day offset) packed into one
    int64, most significant first, so one integer sort orders a group's rows by series, then
    day."""

    groups: int
    locations: int
    codes: int
    first_day: int
    days: int

    @property
    def day_bits(self) -> int:
        return bits_for(self.days)

    @property
    def code_bits(self) -> int:
        return bits_for(self.codes)

    @property
    def location_bits(self) -> int:
        return bits_for(self.locations)

    @property
    def bits(self) -> int:
        return self.location_bits + self.code_bits + self.day_bits


@dataclass
class GroupRows:
    """One group's rows, not yet in order: each row's key (series << day bits | day) with, when
    the quantities are encoded and there is room, the row's quantity code in its `low_bits`
    (`quantity` None: the sort carries the codes, nothing is gathered after it); else the
    group's own quantities, one per key. `sorted` orders them on the thread that builds the
    group, so the groups' sorts run two at a time beside the serialising."""

    packed: np.ndarray
    low_bits: int
    quantity: np.ndarray | None
    quantity_type: np.dtype
    key_type: type

    def sorted(self) -> DemandGroup:
        """The group's keys in order, each with its quantity. The frame comes day by day
        (series in order within a day), so a group's keys are one sorted run per day: both
        sorts are numpy's stable one, which merges the runs."""
        if self.quantity is not None:
            keys, order = sorted_with_order(self.packed, in_runs=True)
            return DemandGroup(keys.astype(self.key_type), self.quantity[order])
        packed = self.packed
        packed.sort(kind="stable")
        keys = (packed >> self.low_bits).astype(self.key_type)
        return DemandGroup(keys, (packed & ((1 << self.low_bits) - 1)).astype(self.quantity_type))


def group_rows(
    layout: KeyLayout,
    loc_rank: np.ndarray,
    code_rank: np.ndarray,
    day_offsets: np.ndarray,
    code_group: np.ndarray,
    refused: np.ndarray | None,
    quantity: np.ndarray,
    distinct_quantities: int | None,
) -> list[GroupRows]:
    """The sendable rows split into their groups, in frame order within each (refused rows left
    out). `code_group`: per code rank, its group (an extra last slot for rank -1); `quantity`:
    per row, a code into `distinct_quantities` values, or (None) the value itself.

    Each row's key carries its quantity code in its low bits when the quantities are encoded
    and 63 bits hold both; else each group keeps its own quantities (see `GroupRows`).
    Rows are split a slice at a time by a counting sort on their group (numpy radix-sorts 8
    and 16 bit integers), with no full-length temporary, two slices at a time."""
    if layout.bits > 63:
        raise ValueError(
            f"demand has too many locations ({layout.locations}), codes ({layout.codes}) or "
            f"days ({layout.days}) to be ordered by one 64-bit key"
        )
    count = len(day_offsets)
    quantity_bits = max(bits_for(distinct_quantities or 0), 1)
    in_keys = distinct_quantities is not None and layout.bits + quantity_bits <= 63
    low_bits = quantity_bits if in_keys else 0
    # Per row, its group; refused rows go to an extra last group that is not kept.
    group_type = smallest_uint(layout.groups + 1)
    group_of_code = code_group.astype(group_type)
    row_group = np.empty(count, dtype=group_type)
    # Slices of 256k rows: two at a time hold less than one of 1M, and are faster (in cache).
    slices = list(_slices(count, _ROWS_PER_PASS // 4))

    def assign(rows: slice) -> list[int]:
        part = row_group[rows]
        np.take(group_of_code, code_rank[rows], out=part)  # rank -1 takes the last slot
        if refused is not None:
            part[refused[rows]] = layout.groups
        return np.bincount(part, minlength=layout.groups + 1).tolist()[: layout.groups]

    # Rows per slice and group: where each slice's rows go in each group's arrays, so the
    # slices can be written on two threads at once.
    per_slice = np.array(list(ordered_map(assign, slices)), dtype=np.int64).reshape(
        len(slices), layout.groups
    )
    at = np.cumsum(per_slice, axis=0) - per_slice
    sizes = per_slice.sum(axis=0).tolist()
    keys = [np.empty(size, dtype=np.int64) for size in sizes]
    quantities = [np.empty(0 if in_keys else size, quantity.dtype) for size in sizes]

    def fill(index: int) -> None:
        rows = slices[index]
        key = loc_rank[rows].astype(np.int64)
        key <<= layout.code_bits
        key |= code_rank[rows]
        key <<= layout.day_bits
        key |= day_offsets[rows]
        if in_keys:
            key <<= low_bits
            key |= quantity[rows]
        part_quantity = None if in_keys else quantity[rows]
        if layout.groups > 1 or refused is not None:
            by_group = np.argsort(row_group[rows], kind="stable")
            key = key[by_group]
            if part_quantity is not None:
                part_quantity = part_quantity[by_group]
        start = 0
        for group, size in enumerate(per_slice[index].tolist()):
            if size:
                to = slice(int(at[index, group]), int(at[index, group]) + size)
                keys[group][to] = key[start : start + size]
                if part_quantity is not None:
                    quantities[group][to] = part_quantity[start : start + size]
                start += size

    for _ in ordered_map(fill, range(len(slices))):
        pass
    key_type = np.int32 if layout.bits <= 31 else np.int64
    return [
        GroupRows(packed, low_bits, None if in_keys else group_quantity, quantity.dtype, key_type)
        for packed, group_quantity in zip(keys, quantities, strict=True)
    ]
