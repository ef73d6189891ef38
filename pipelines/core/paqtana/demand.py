"""Historical demand bodies: daily totals per location x code as `POST historical_demand` bodies
of at most the byte cap (measured), one object per series with its days in order, in bounded
memory. Paqtana merges by day + item, so the bodies can go in any number of requests."""

from __future__ import annotations

import hashlib
import io
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core import stage_clock
from pipelines.core.erp.contract import DEMAND
from pipelines.core.free_memory import release_free_memory
from pipelines.core.locations import WorkspaceMapping
from pipelines.core.ordered_pool import ordered_map
from pipelines.core.packed_sort import bits_for, run_starts, smallest_uint
from pipelines.core.paqtana.columns import float_values, lexical_factorize, require_columns
from pipelines.core.paqtana.contract import (
    DEFAULT_BODY_CAP_BYTES,
    DEMAND_FIELD_NAMES,
    PayloadTooLargeError,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces, reject_unsendable_locations
from pipelines.core.rejects import RejectCollector

_ENVELOPE_HEAD = b'{"data":['
# Arrow's type for the JSON texts: 32-bit offsets, so one group's text is under 2 GiB.
_TEXT = pa.string()
_ENVELOPE_TAIL = b"]}"
_ENVELOPE_BYTES = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)
# Rows converted per pass where a whole-column temporary would cost too much memory.
_ROWS_PER_PASS = 1 << 20
# A missing date, as numpy stores it; ticks of each datetime64 unit in a day.
_NAT = np.iinfo(np.int64).min
_TICKS_PER_DAY = {"D": 1, "h": 24, "m": 1440, "s": 86_400, "ms": 86_400_000, "us": 86_400 * 10**6}
_TICKS_PER_DAY["ns"] = 86_400 * 10**9


@dataclass(frozen=True)
class DemandChunk:
    """One POST body, exactly the bytes to send. `series` counts the objects in it (a series
    split for size counts once per piece); `sha256` identifies the body across runs."""

    body: bytes
    series: int
    values: int
    sha256: str

    @property
    def size_bytes(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class DemandChunks:
    """All demand bodies of one build, in send order, plus the rows that could not be sent.
    The same input and cap give the same bodies and hashes."""

    chunks: list[DemandChunk]
    rejects: pd.DataFrame
    cap_bytes: int
    # Distinct (location, code) series and daily values sent across all chunks.
    series: int
    values: int
    # Series larger than the cap on their own, sent as several date ranges.
    split_series: int

    @property
    def bodies(self) -> list[bytes]:
        return [c.body for c in self.chunks]

    @property
    def bytes_total(self) -> int:
        return sum(c.size_bytes for c in self.chunks)


DEMAND_ROWS_PER_BUILD = 500_000


def build_historical_demand_chunks(
    demand: pd.DataFrame,
    workspaces: WorkspaceMapping,
    cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    *,
    org_workspaces: OrgWorkspaces | None = None,
    rows_per_build: int = DEMAND_ROWS_PER_BUILD,
) -> DemandChunks:
    """POST bodies of at most `cap_bytes` each (measured), one object per (location, code) with
    its days sorted, objects ordered by (location, code) within a group. A series is only split
    (by date) when it alone exceeds the cap. Bounded memory: whole series are split into groups
    (by a hash of the code) of about `rows_per_build` rows, built two groups at a time and packed
    in group order into full bodies; the JSON text is built by Arrow kernels, so Python work is
    per body and per distinct location/code, never per row.

    The frame is read once into integer columns and not kept: a caller that hands over its only
    reference (`build_historical_demand_chunks(staging.read_days(...), ...)`) lets the frame's
    memory go while the bodies are built (at 10M rows the frame is 210 MB, the bodies 184 MB)."""
    if cap_bytes <= _ENVELOPE_BYTES:
        raise ValueError(f"cap_bytes={cap_bytes} leaves no room for any data")
    with stage_clock.stage("group"):
        columns = _DemandColumns(demand)
        del demand  # from here on only `columns` holds the frame's arrays, and lets them go
        rows = _DemandRows.prepare(columns, workspaces, org_workspaces, rows_per_build)
    return rows.build(cap_bytes)


@dataclass(frozen=True)
class _JsonTexts:
    """Distinct values as JSON literals (an Arrow array to take from) and their UTF-8 sizes."""

    texts: pa.Array
    sizes: np.ndarray

    @classmethod
    def of(cls, values: Iterable[object]) -> _JsonTexts:
        # Decoded at once: orjson's bytes carry kilobytes of spare capacity each.
        texts = pa.array([orjson.dumps(v).decode() for v in values], type=_TEXT)
        return cls(texts, pc.binary_length(texts).to_numpy().astype(np.int64))


@dataclass(frozen=True)
class _Tokens:
    """Texts of one kind of value as they appear in a body: the first of an object's list
    (`plain`) and each later one after its separator (`separated`), with their UTF-8 sizes."""

    plain: pa.Array
    separated: pa.Array
    sizes: np.ndarray  # of `plain`; a separated text is len(separator) longer

    @classmethod
    def of(cls, texts: pa.Array, separator: str) -> _Tokens:
        text = _TEXT
        separated = pc.binary_join_element_wise(
            pa.scalar(separator, text), texts, pa.scalar("", text)
        )
        return cls(texts, separated, pc.binary_length(texts).to_numpy().astype(np.int64))


class _DemandColumns:
    """The demand frame's columns as arrays (views where the frame allows: a categorical's own
    codes when its categories are in text order, the date and quantity buffers), plus the reject
    collector. `_DemandRows.prepare` drops each array as soon as it is encoded."""

    def __init__(self, demand: pd.DataFrame) -> None:
        require_columns(demand, DEMAND.names, "demand")
        # Rejects name their source file and line when the frame carries them.
        sources = [c for c in ("source_file", "source_line") if c in demand.columns]
        self.collector = RejectCollector(demand[sources])
        self.loc_rank: np.ndarray | None
        self.code_rank: np.ndarray | None
        self.loc_rank, self.locations = lexical_factorize(demand["location"])
        self.code_rank, self.codes = lexical_factorize(demand["code"])
        self.date: np.ndarray | None = _datetime_values(demand["date"])
        self.quantity: np.ndarray | None = float_values(demand["quantity"])


@dataclass
class _DemandGroup:
    """One group's rows in (series, day) order: key = series << day bits | day offset, and each
    row's quantity (a code into the distinct quantities, or the value itself)."""

    keys: np.ndarray
    quantity: np.ndarray


@dataclass
class _DemandRows:
    """The sendable demand rows, grouped and sorted once: per group, the rows' keys and
    quantities; the JSON text of each distinct location, code, workspace, day and quantity."""

    groups: deque[_DemandGroup]
    code_bits: int
    day_bits: int
    codes: int  # distinct codes
    loc_json: _JsonTexts
    code_json: _JsonTexts
    ws_json: _JsonTexts  # per location rank
    days: _Tokens  # per day offset
    quantities: _Tokens | None  # per quantity code; None: quantities are values, formatted per row
    rejects: pd.DataFrame

    @classmethod
    def prepare(
        cls,
        columns: _DemandColumns,
        workspaces: WorkspaceMapping,
        org_workspaces: OrgWorkspaces | None,
        rows_per_build: int,
    ) -> _DemandRows:
        """Rows that cannot be sent go to `rejects` (first fault wins); the rest are sorted by
        (group, series, day) with one packed sort and cut into groups. Consumes `columns`."""
        collector, locations, codes = columns.collector, columns.locations, columns.codes
        loc_rank, code_rank = columns.loc_rank, columns.code_rank
        days = _Days.of(columns.date)
        columns.date = None
        if days.missing is not None:
            collector.reject_missing(days.missing, "date")
        for rank, field_name in ((loc_rank, "location"), (code_rank, "code")):
            if len(rank) and rank.min() < 0:
                collector.reject_missing(rank < 0, field_name)
        quantity = columns.quantity
        columns.quantity = None
        if len(quantity) and not (np.isfinite(quantity.sum()) and quantity.min() >= 0):
            collector.reject(
                ~(np.isfinite(quantity) & (quantity >= 0)),
                "quantity",
                lambda rows, values=quantity: values[rows].astype(str),
                "quantity must be a finite number >= 0",
            )
        ws_codes = reject_unsendable_locations(
            collector, loc_rank, locations, workspaces, org_workspaces
        )
        quantity_codes, quantity_texts = _encode_quantities(quantity)
        del quantity
        refused = None if collector.remaining.all() else ~collector.remaining
        kept = len(collector.remaining) - (0 if refused is None else int(refused.sum()))
        groups = max(-(-kept // rows_per_build), 1)
        # A hash of the code's text, not its position: the same series land in the same group
        # (and so the same bodies, with the same hashes for a resume) whatever the row order.
        # The extra last slot takes a missing code (-1), whose row is refused anyway.
        code_texts = np.asarray([str(c) for c in codes], dtype=object)
        code_group = np.append(
            (pd.util.hash_array(code_texts) % np.uint64(groups)).astype(np.int64)
            if groups > 1
            else np.zeros(len(codes), dtype=np.int64),
            0,
        )
        del code_texts
        layout = _KeyLayout(groups, len(locations), len(codes), days.first, days.count)
        rows = _SortedRows.of(layout, loc_rank, code_rank, days.offsets, code_group, refused)
        del loc_rank, code_rank, days, refused
        columns.loc_rank = columns.code_rank = None
        parts = deque(rows.groups(quantity_codes))
        del rows, quantity_codes
        release_free_memory()  # the frame's and the sort's pages, before the bodies grow
        first_day, last_day = layout.first_day, layout.first_day + layout.days - 1
        calendar = np.arange(first_day, last_day + 1, dtype=np.int64).view("datetime64[D]")
        return cls(
            groups=parts,
            code_bits=layout.code_bits,
            day_bits=layout.day_bits,
            codes=len(codes),
            loc_json=_JsonTexts.of(str(v) for v in locations),
            code_json=_JsonTexts.of(str(v) for v in codes),
            ws_json=_JsonTexts.of(ws_codes),
            days=_Tokens.of(pa.array(calendar).cast(_TEXT), '","'),
            quantities=None if quantity_texts is None else _Tokens.of(quantity_texts, ","),
            rejects=collector.frame(),
        )

    def build(self, cap_bytes: int) -> DemandChunks:
        """The bodies of every group, packed in group order: a body may hold objects of two
        groups, so bodies stay full however small the groups. Two groups are built at a time
        (numpy and Arrow release the GIL); each group's rows are released once its objects are
        built."""
        # A body is the envelope plus its objects minus the last object's trailing comma.
        room = cap_bytes - _ENVELOPE_BYTES + 1
        packer = _BodyPacker(room)
        series = values = split_series = 0
        for built in ordered_map(lambda group: self._objects(group, room), _drain(self.groups)):
            if built is None:
                continue
            series += built.series
            values += built.values
            split_series += built.split_series
            with stage_clock.stage("pack"):
                packer.add(built)
                del built
                # The packed group's pages go back as the bodies grow (measured: 130 MB less
                # peak at 10M rows, for a few milliseconds).
                release_free_memory()
        with stage_clock.stage("pack"):
            chunks = packer.finish()
        return DemandChunks(chunks, self.rejects, cap_bytes, series, values, split_series)

    def _objects(self, group: _DemandGroup, room: int) -> _DemandObjects | None:
        """The JSON objects of one group's rows, or None when it has no row."""
        with stage_clock.stage("serialise"):
            return _demand_objects(group, self, room)


@dataclass(frozen=True)
class _DemandObjects:
    """Demand objects as JSON text, each followed by a comma, back to back in one buffer:
    object i is `data[bounds[i]:bounds[i + 1]]`; its daily values; the series they come from
    and how many were split for size."""

    data: pa.Buffer
    bounds: np.ndarray
    values_per_object: np.ndarray
    series: int
    values: int
    split_series: int


def _drain(groups: deque[_DemandGroup]) -> Iterator[_DemandGroup]:
    """The groups, each removed from `groups` as it is handed out (so it is freed once built)."""
    while groups:
        yield groups.popleft()


def _datetime_values(column: pd.Series) -> np.ndarray:
    """The dates as datetime64 values (a view of the column where possible)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(column.dtype):
        raise TypeError(f"demand 'date' must be datetime64, not {column.dtype}")
    return column.to_numpy()


@dataclass(frozen=True)
class _Days:
    """Each row's date as days since the first date (narrow integers), the number of days from
    the first date to the last, and which rows have no date (None: every row has one)."""

    first: int
    count: int
    offsets: np.ndarray
    missing: np.ndarray | None

    @classmethod
    def of(cls, values: np.ndarray) -> _Days:
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
    def _of_sorted(cls, ticks: np.ndarray, per_day: int) -> _Days:
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
class _KeyLayout:
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


class _SortedRows:
    """The rows' keys in order (see `_KeyLayout`) and where each row came from: one np.sort of
    the keys with each row's position in their low bits (a stable argsort of 10M keys takes
    about ten times as long), or a stable argsort when key and position do not fit in 63 bits."""

    def __init__(self, layout: _KeyLayout, keys: np.ndarray, position_bits: int) -> None:
        self.layout = layout
        self.position_bits = position_bits
        if position_bits:
            keys.sort()
            self.packed, self.order = keys, None
        else:
            self.order = np.argsort(keys, kind="stable")
            self.packed = keys

    @classmethod
    def of(
        cls,
        layout: _KeyLayout,
        loc_rank: np.ndarray,
        code_rank: np.ndarray,
        day_offsets: np.ndarray,
        code_group: np.ndarray,
        refused: np.ndarray | None,
    ) -> _SortedRows:
        if layout.bits > 63:
            raise ValueError(
                f"demand has too many locations ({layout.locations}), codes ({layout.codes}) or "
                f"days ({layout.days}) to be ordered by one 64-bit key"
            )
        count = len(day_offsets)
        position_bits = bits_for(count) if layout.bits + bits_for(count) <= 63 else 0
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
            if position_bits:
                key <<= position_bits
                key |= np.arange(rows.start, rows.stop, dtype=np.int64)
        return cls(layout, keys, position_bits)

    def groups(self, quantity: np.ndarray) -> Iterator[_DemandGroup]:
        """Each group's keys (group bits cleared) and quantities, in order, refused rows left
        out."""
        shift = self.layout.group_shift + self.position_bits
        bounds = np.searchsorted(
            self.packed if self.order is None else self.packed[self.order],
            np.arange(self.layout.groups + 1, dtype=np.int64) << shift,
        )
        key_mask = (1 << self.layout.group_shift) - 1
        key_type = np.int32 if self.layout.group_shift <= 31 else np.int64
        for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if self.order is None:
                part = self.packed[start:end]
                keys = part >> self.position_bits
                keys &= key_mask
                positions = part & ((1 << self.position_bits) - 1)
            else:
                positions = self.order[start:end]
                keys = self.packed[positions] & key_mask
            yield _DemandGroup(keys.astype(key_type), quantity[positions])


def _encode_quantities(quantity: np.ndarray) -> tuple[np.ndarray, pa.Array | None]:
    """Each row's quantity as a code into the distinct quantities, and their JSON texts (Arrow's
    shortest round-trip form, integral values without ".0"): daily quantities repeat, so each
    is formatted once. When most values are distinct: the values themselves and None."""
    encoded = pc.dictionary_encode(pa.array(quantity, type=pa.float64()))
    distinct = encoded.dictionary
    if len(distinct) * 4 > len(quantity):
        return quantity, None
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    del encoded
    return codes.astype(smallest_uint(len(distinct)), copy=False), distinct.cast(_TEXT)


def _demand_objects(group: _DemandGroup, rows: _DemandRows, room: int) -> _DemandObjects | None:
    """The JSON text of a group's demand objects (see `_DemandObjects`): one Arrow `take` from
    a dictionary of every token a body holds (the fixed text of each series, each day, each
    quantity, with and without separator) writes the objects back to back."""
    keys = group.keys
    n_rows = len(keys)
    if n_rows == 0:
        return None
    repeated = int(np.count_nonzero(keys[1:] == keys[:-1]))
    if repeated:
        raise ValueError(
            f"demand holds {repeated} repeated (date, location, code) rows; "
            "ingestion must sum them into one daily total first"
        )
    day = (keys & ((1 << rows.day_bits) - 1)).astype(np.int32)
    series_key = keys >> rows.day_bits
    series_starts = run_starts(series_key)
    first_keys = series_key[series_starts]
    del series_key
    series_loc = first_keys >> rows.code_bits
    series_code = first_keys & ((1 << rows.code_bits) - 1)
    literals = _demand_literals()
    # Bytes of one fragment (object + trailing comma) outside its values; the last value has
    # no separators, hence -4.
    series_fixed = (
        sum(len(lit.encode()) for lit in literals)
        + rows.loc_json.sizes[series_loc]
        + rows.code_json.sizes[series_code]
        + rows.ws_json.sizes[series_loc]
        - 4
    )
    if rows.quantities is None:
        quantity = _Tokens.of(pa.array(group.quantity).cast(_TEXT), ",")
        quantity_code = np.arange(n_rows, dtype=np.int32)
    else:
        quantity, quantity_code = rows.quantities, group.quantity
    object_starts, split_series = _split_objects(
        series_starts, series_fixed, day, quantity_code, rows.days, quantity, room
    )
    object_series = (
        np.arange(len(series_starts))
        if split_series == 0
        else np.searchsorted(series_starts, object_starts, side="right") - 1
    )
    lit = [pa.scalar(s, _TEXT) for s in literals]
    prefixes = pc.binary_join_element_wise(
        lit[0],
        rows.loc_json.texts.take(pa.array(series_loc)),
        lit[1],
        rows.code_json.texts.take(pa.array(series_code)),
        lit[2],
        rows.ws_json.texts.take(pa.array(series_loc)),
        lit[3],
        pa.scalar("", _TEXT),
    )
    dictionary = pa.concat_arrays(
        [
            prefixes,
            rows.days.plain,
            rows.days.separated,
            quantity.plain,
            quantity.separated,
            pa.array([literals[4], literals[5]], _TEXT),
        ]
    )
    days_at = len(prefixes)
    quantities_at = days_at + 2 * len(rows.days.plain)
    middle_at = quantities_at + 2 * len(quantity.plain)
    index = _token_index(
        object_starts,
        object_series,
        n_rows,
        (day, days_at, len(rows.days.plain)),
        (quantity_code, quantities_at, len(quantity.plain)),
        middle_at,
    )
    text = dictionary.take(pa.array(index))
    del index, dictionary
    _, offsets_buffer, data = text.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[text.offset :]
    bounds = np.append(2 * object_starts + 3 * np.arange(len(object_starts)), len(text))
    return _DemandObjects(
        data,
        offsets[bounds].astype(np.int64),
        np.diff(np.append(object_starts, n_rows)),
        len(series_starts),
        n_rows,
        split_series,
    )


def _token_index(
    object_starts: np.ndarray,
    object_series: np.ndarray,
    n_rows: int,
    days: tuple[np.ndarray, int, int],
    quantities: tuple[np.ndarray, int, int],
    middle_at: int,
) -> np.ndarray:
    """Dictionary positions of every token of the objects, in body order. An object of L rows
    starting at row s (the j-th object) is 2L + 3 tokens from position 2s + 3j: its fixed
    prefix, L dates, the text between the lists, L quantities and its closing text. `days` and
    `quantities` are (per-row code, where their plain texts start, how many there are); the
    separated texts follow the plain ones."""
    lengths = np.diff(np.append(object_starts, n_rows))
    starts = 2 * object_starts + 3 * np.arange(len(object_starts))
    index = np.empty(2 * n_rows + 3 * len(object_starts), dtype=np.int32)
    index[starts] = object_series
    index[starts + 1 + lengths] = middle_at
    index[starts + 2 + 2 * lengths] = middle_at + 1
    # A row's date token is one after the row before it, except at an object start, where it
    # jumps over the end of the object before and the start of its own; the same for the
    # quantities, which start L + 1 further on.
    later = object_starts[1:]
    step = np.ones(n_rows, dtype=np.int32)
    position = np.empty(n_rows, dtype=np.int32)
    step[0], step[later] = 1, lengths[:-1] + 4
    np.cumsum(step, out=position)
    index[position] = _value_tokens(days, object_starts)
    step[0], step[later] = 2 + lengths[0], lengths[1:] + 4
    np.cumsum(step, out=position)
    index[position] = _value_tokens(quantities, object_starts)
    return index


def _value_tokens(values: tuple[np.ndarray, int, int], object_starts: np.ndarray) -> np.ndarray:
    """Per row, the dictionary position of its value's text: the separated text, but the plain
    one for an object's first value."""
    code, plain_at, count = values
    token = code.astype(np.int32) + (plain_at + count)
    token[object_starts] -= count
    return token


def _split_objects(
    series_starts: np.ndarray,
    series_fixed: np.ndarray,
    day: np.ndarray,
    quantity_code: np.ndarray,
    days: _Tokens,
    quantities: _Tokens,
    room: int,
) -> tuple[np.ndarray, int]:
    """Row index where each demand object starts (one per series, plus date-range pieces for a
    series too big for one body) and how many series were split. Sizes are only computed when
    some series could be too big."""
    n_rows = len(day)
    lengths = np.diff(np.append(series_starts, n_rows))
    # Each value costs its text plus `","` around a date and `,` after a quantity.
    widest_value = int(days.sizes.max()) + int(quantities.sizes.max()) + 4
    if int(series_fixed.max()) + int(lengths.max()) * widest_value <= room:
        return series_starts, 0
    cum_cost = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(days.sizes[day] + quantities.sizes[quantity_code] + 4, out=cum_cost[1:])
    return _object_starts(series_starts, series_fixed, cum_cost, n_rows, room)


def _demand_literals() -> list[str]:
    """The fixed JSON text around one demand object's values; each fragment ends with the comma
    that separates it from the next (the last one's is cut when a body is cut)."""
    loc, code, ws, dates, quantities = (orjson.dumps(n).decode() for n in DEMAND_FIELD_NAMES)
    return [
        "{" + loc + ":",
        "," + code + ":",
        "," + ws + ":",
        "," + dates + ':["',
        '"],' + quantities + ":[",
        "]},",
    ]


def _object_starts(
    series_starts: np.ndarray,
    series_fixed: np.ndarray,
    cum_cost: np.ndarray,
    n_rows: int,
    room: int,
) -> tuple[np.ndarray, int]:
    """Row index where each demand object starts: one per series, plus date-range pieces for a
    series whose fragment alone exceeds `room` (the fragment bytes one body can hold)."""
    series_ends = np.append(series_starts[1:], n_rows)
    size = series_fixed + cum_cost[series_ends] - cum_cost[series_starts]
    oversize = np.flatnonzero(size > room)
    if len(oversize) == 0:
        return series_starts, 0
    extra: list[int] = []
    for s in oversize:
        start, end, fixed = int(series_starts[s]), int(series_ends[s]), int(series_fixed[s])
        while start < end:
            if start > series_starts[s]:
                extra.append(start)
            stop = int(np.searchsorted(cum_cost, cum_cost[start] + room - fixed, side="right"))
            stop = min(stop - 1, end)
            if stop <= start:
                one_day = fixed + int(cum_cost[start + 1] - cum_cost[start]) - 1
                raise PayloadTooLargeError(
                    f"a demand object holding a single day needs {one_day:,} bytes, which "
                    f"cannot fit in a body under the cap ({room - 1:,} bytes of data)"
                )
            start = stop
    starts = np.sort(np.concatenate([series_starts, np.array(extra, dtype=np.int64)]))
    return starts, len(oversize)


class _BodyPacker:
    """Greedy packing in order: each body takes as many whole objects as fit in `room` (the
    bytes of objects, trailing commas included, one body can hold). Objects are copied straight
    out of Arrow's text buffer into the body being filled, once, so a group's text is freed as
    soon as it is packed (a BytesIO hands its buffer over as the body without another copy)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.chunks: list[DemandChunk] = []
        self.body: io.BytesIO | None = None  # the body being filled, envelope head included
        self.size = self.series = self.values = 0

    def add(self, objects: _DemandObjects) -> None:
        bounds = objects.bounds
        data = memoryview(objects.data)
        cum = bounds - bounds[0]
        values = np.zeros(len(bounds), dtype=np.int64)
        np.cumsum(objects.values_per_object, out=values[1:])
        first, count = 0, len(bounds) - 1
        while first < count:
            last = int(np.searchsorted(cum, cum[first] + self.room - self.size, "right")) - 1
            if last == first:  # the next object does not fit: this body is full
                if self.body is None:
                    raise RuntimeError("a demand object larger than a body (a bug here)")
                self._close()
                continue
            if self.body is None:
                self.body = io.BytesIO()
                self.body.write(_ENVELOPE_HEAD)
            self.body.write(data[bounds[first] : bounds[last]])
            self.size += int(cum[last] - cum[first])
            self.series += last - first
            self.values += int(values[last] - values[first])
            first = last

    def finish(self) -> list[DemandChunk]:
        if self.body is not None:
            self._close()
        return self.chunks

    def _close(self) -> None:
        body = self.body
        body.seek(-1, io.SEEK_END)  # over the last object's trailing comma
        body.write(_ENVELOPE_TAIL)
        text = body.getvalue()
        self.chunks.append(
            DemandChunk(
                body=text,
                series=self.series,
                values=self.values,
                sha256=hashlib.sha256(text).hexdigest(),
            )
        )
        self.body = None
        self.size = self.series = self.values = 0
