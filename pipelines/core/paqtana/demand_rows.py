"""Demand rows in the order the bodies need them: each row's date as a day offset, and one
integer sort key per row (group, location, code, day) so one `np.sort` orders them all, then cut
into groups of whole series (see `demand.py` for what the groups are)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.core.packed_sort import bits_for, run_starts, smallest_uint

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


def _slices(count: int) -> Iterator[slice]:
    for start in range(0, count, _ROWS_PER_PASS):
        yield slice(start, min(start + _ROWS_PER_PASS, count))


@dataclass(frozen=True)
class KeyLayout:
    """A row's sort key: (group, location rank, code rank, day offset) packed into one int64,
    most significant first, so one integer sort orders rows by group, then series, then day.
    Refused rows get group `groups`, after every real group."""

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
    def group_shift(self) -> int:
        return self.location_bits + self.code_bits + self.day_bits

    @property
    def bits(self) -> int:
        return bits_for(self.groups + 1) + self.group_shift


class SortedRows:
    """The rows' keys in order (see `KeyLayout`), each with its quantity: one np.sort of the keys
    with, in their low bits, the row's quantity code when the quantities are encoded (the sort
    then carries them: nothing is gathered after it), else the row's position (a stable argsort
    of 10M keys takes about ten times as long); a stable argsort when neither fits in 63 bits."""

    def __init__(
        self,
        layout: KeyLayout,
        keys: np.ndarray,
        low_bits: int,
        quantity: np.ndarray,
        quantity_in_keys: bool,
    ) -> None:
        self.layout = layout
        self.low_bits = low_bits
        self.quantity_type = quantity.dtype
        # Codes carried in the keys are not kept: a reference would keep the whole column alive.
        self.quantity = None if quantity_in_keys else quantity
        if low_bits:
            keys.sort()
            self.packed, self.order = keys, None
        else:
            self.order = np.argsort(keys, kind="stable")
            self.packed = keys

    @classmethod
    def of(
        cls,
        layout: KeyLayout,
        loc_rank: np.ndarray,
        code_rank: np.ndarray,
        day_offsets: np.ndarray,
        code_group: np.ndarray,
        refused: np.ndarray | None,
        quantity: np.ndarray,
        distinct_quantities: int | None,
    ) -> SortedRows:
        """`quantity`: per row, a code into `distinct_quantities` values, or (None) the value."""
        if layout.bits > 63:
            raise ValueError(
                f"demand has too many locations ({layout.locations}), codes ({layout.codes}) or "
                f"days ({layout.days}) to be ordered by one 64-bit key"
            )
        count = len(day_offsets)
        quantity_bits = max(bits_for(distinct_quantities or 0), 1)
        in_keys = distinct_quantities is not None and layout.bits + quantity_bits <= 63
        if in_keys:
            low_bits = quantity_bits
        else:
            low_bits = bits_for(count) if layout.bits + bits_for(count) <= 63 else 0
        keys = np.empty(count, dtype=np.int64)
        for rows in _slices(count):  # a slice at a time: no full-length temporaries
            key = keys[rows]
            np.take(code_group, code_rank[rows], out=key)  # rank -1 takes the last slot
            key <<= layout.location_bits
            key |= loc_rank[rows]
            key <<= layout.code_bits
            key |= code_rank[rows]
            key <<= layout.day_bits
            key |= day_offsets[rows]
            if refused is not None:
                key[refused[rows]] = layout.groups << layout.group_shift
            if low_bits:
                key <<= low_bits
                key |= quantity[rows] if in_keys else np.arange(rows.start, rows.stop)
        return cls(layout, keys, low_bits, quantity, in_keys)

    def groups(self) -> Iterator[DemandGroup]:
        """Each group's keys (group bits cleared) and quantities, in order, refused rows left
        out."""
        shift = self.layout.group_shift + self.low_bits
        bounds = np.searchsorted(
            self.packed if self.order is None else self.packed[self.order],
            np.arange(self.layout.groups + 1, dtype=np.int64) << shift,
        )
        key_mask = (1 << self.layout.group_shift) - 1
        low_mask = (1 << self.low_bits) - 1
        key_type = np.int32 if self.layout.group_shift <= 31 else np.int64
        for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if self.order is None:
                part = self.packed[start:end]
                keys = part >> self.low_bits
                keys &= key_mask
                low = part & low_mask
                if self.quantity is None:  # the codes rode in the keys
                    quantity = low.astype(self.quantity_type)
                else:
                    quantity = self.quantity[low]
            else:
                positions = self.order[start:end]
                keys = self.packed[positions] & key_mask
                quantity = self.quantity[positions]
            yield DemandGroup(keys.astype(key_type), quantity)
