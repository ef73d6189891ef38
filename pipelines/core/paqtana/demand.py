"""Historical demand bodies: daily totals per location x code as `POST historical_demand` bodies
of at most the byte cap (measured), one object per series with its days in order, in bounded
memory. Paqtana merges by day + item, so the bodies can go in any number of requests."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.erp.contract import DEMAND
from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana.columns import float_values, lexical_factorize, require_columns
from pipelines.core.paqtana.contract import (
    DEFAULT_BODY_CAP_BYTES,
    DEMAND_FIELD_NAMES,
    PayloadTooLargeError,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces, reject_unsendable_locations
from pipelines.core.rejects import RejectCollector

_ENVELOPE_HEAD = b'{"data":['
_ENVELOPE_TAIL = b"]}"
_ENVELOPE_BYTES = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)
# A missing demand date among epoch days (int32).
_NO_DAY = np.iinfo(np.int32).min
# Rows converted per pass where a whole-column temporary would cost too much memory.
_ROWS_PER_PASS = 1 << 20


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
# Groups of rows built side by side.
_BUILD_THREADS = 2


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
    per body and per distinct location/code, never per row."""
    rows = _DemandRows.prepare(demand, workspaces, org_workspaces, cap_bytes)
    groups = -(-len(rows.days) // rows_per_build)
    if groups <= 1:
        return rows.build([None], cap_bytes)
    # A hash of the code's text, not its position: the same series land in the same group (and
    # so the same bodies, with the same hashes for a resume) whatever the row order. Hashed
    # once per distinct code, then taken per row.
    code_group = (pd.util.hash_array(rows.codes) % np.uint64(groups)).astype(_group_dtype(groups))
    group = code_group[rows.code_rank]
    # Rows of each group side by side, in their order: a radix sort of small ints, then views.
    by_group = np.argsort(group, kind="stable").astype(np.int32 if len(group) < 2**31 else np.int64)
    ends = np.cumsum(np.bincount(group, minlength=groups))
    del group
    return rows.build(np.split(by_group, ends[:-1]), cap_bytes)


def _group_dtype(groups: int) -> type:
    """The narrowest integer type for group numbers (numpy radix-sorts 8 and 16 bit ints)."""
    return np.int8 if groups < 2**7 else np.int16 if groups < 2**15 else np.int32


@dataclass(frozen=True)
class _JsonTexts:
    """Distinct values as JSON literals (an Arrow array to take from) and their UTF-8 sizes."""

    texts: pa.Array
    sizes: np.ndarray

    @classmethod
    def of(cls, values: Iterable[object]) -> _JsonTexts:
        # Decoded at once: orjson's bytes carry kilobytes of spare capacity each.
        texts = pa.array([orjson.dumps(v).decode() for v in values], type=pa.large_string())
        return cls(texts, pc.binary_length(texts).to_numpy().astype(np.int64))


@dataclass(frozen=True)
class _DemandRows:
    """The sendable demand rows, checked and encoded once for any number of builds: integer
    ranks in text order for location and code, epoch days, quantities, and the JSON text of
    each distinct location, code and workspace."""

    loc_rank: np.ndarray
    code_rank: np.ndarray
    days: np.ndarray
    quantity: np.ndarray
    codes: np.ndarray  # distinct code texts (object), in rank order
    loc_json: _JsonTexts
    code_json: _JsonTexts
    ws_json: _JsonTexts  # per location rank
    rejects: pd.DataFrame

    @classmethod
    def prepare(
        cls,
        demand: pd.DataFrame,
        workspaces: WorkspaceMapping,
        org_workspaces: OrgWorkspaces | None,
        cap_bytes: int,
    ) -> _DemandRows:
        """Rows that cannot be sent go to `rejects` (first fault wins); the rest are kept."""
        if cap_bytes <= _ENVELOPE_BYTES:
            raise ValueError(f"cap_bytes={cap_bytes} leaves no room for any data")
        require_columns(demand, DEMAND.names, "demand")
        collector = RejectCollector(demand)
        loc_rank, locations = lexical_factorize(demand["location"])
        code_rank, codes = lexical_factorize(demand["code"])
        days = _epoch_days(demand["date"])
        quantity = float_values(demand["quantity"])

        collector.reject_missing(days == _NO_DAY, "date")
        collector.reject_missing(loc_rank < 0, "location")
        collector.reject_missing(code_rank < 0, "code")
        collector.reject(
            ~(np.isfinite(quantity) & (quantity >= 0)),
            "quantity",
            lambda rows: quantity[rows].astype(str),
            "quantity must be a finite number >= 0",
        )
        ws_codes = reject_unsendable_locations(
            collector, loc_rank, locations, workspaces, org_workspaces
        )
        keep = None if collector.remaining.all() else collector.remaining
        return cls(
            loc_rank=_kept(loc_rank, keep),
            code_rank=_kept(code_rank, keep),
            days=_kept(days, keep),
            quantity=_kept(quantity, keep),
            codes=np.asarray([str(c) for c in codes], dtype=object),
            loc_json=_JsonTexts.of(str(v) for v in locations),
            code_json=_JsonTexts.of(str(v) for v in codes),
            ws_json=_JsonTexts.of(ws_codes),
            rejects=collector.frame(),
        )

    def build(self, selections: Iterable[np.ndarray | None], cap_bytes: int) -> DemandChunks:
        """The bodies of each selection of rows (row positions covering whole series; None:
        every row), packed in selection order: a body may hold objects of two selections, so
        bodies stay full however small the selections. Two selections are built at a time
        (numpy's sorts and Arrow's kernels release the GIL)."""
        # A body is the envelope plus its objects minus the last object's trailing comma.
        packer = _BodyPacker(cap_bytes - _ENVELOPE_BYTES + 1)
        series = values = split_series = 0
        with ThreadPoolExecutor(max_workers=_BUILD_THREADS) as pool:
            for built in _in_order(pool, self._objects, selections, cap_bytes):
                if built is not None:
                    packer.add(built)
                    series += built.series
                    values += built.values
                    split_series += built.split_series
        return DemandChunks(packer.finish(), self.rejects, cap_bytes, series, values, split_series)

    def _objects(self, selection: np.ndarray | None, cap_bytes: int) -> _DemandObjects | None:
        """The JSON objects of the selected rows, or None when no row is selected."""
        pick = slice(None) if selection is None else selection
        width = max(len(self.codes), 1)
        series_key = self.loc_rank[pick].astype(np.int64) * width + self.code_rank[pick]
        days = self.days[pick]
        order = _series_then_day_order(series_key, days)
        series_key, days, quantity = series_key[order], days[order], self.quantity[pick][order]
        del order
        n_rows = len(series_key)
        if n_rows == 0:
            return None
        new_series = np.empty(n_rows, dtype=bool)
        new_series[0] = True
        np.not_equal(series_key[1:], series_key[:-1], out=new_series[1:])
        repeated = int((~new_series[1:] & (days[1:] == days[:-1])).sum())
        if repeated:
            raise ValueError(
                f"demand holds {repeated} repeated (date, location, code) rows; "
                "ingestion must sum them into one daily total first"
            )
        series_starts = np.flatnonzero(new_series)
        del new_series
        first_keys = series_key[series_starts]
        return _demand_fragments(
            first_keys // width,
            first_keys % width,
            series_starts,
            days,
            quantity,
            self,
            cap_bytes - _ENVELOPE_BYTES + 1,
        )


@dataclass(frozen=True)
class _DemandObjects:
    """Demand objects as JSON text, each followed by a comma, in one Arrow array; their byte
    sizes and daily values; the series they come from and how many were split for size."""

    texts: pa.Array
    sizes: np.ndarray
    values_per_object: np.ndarray
    series: int
    values: int
    split_series: int


def _in_order(
    pool: ThreadPoolExecutor,
    build: Callable[[np.ndarray | None, int], _DemandObjects | None],
    selections: Iterable[np.ndarray | None],
    cap_bytes: int,
) -> Iterator[_DemandObjects | None]:
    """`build` of each selection, in order, at most `_BUILD_THREADS` ahead of the caller (so
    memory holds that many builds, not all of them)."""
    running: deque[Future[_DemandObjects | None]] = deque()
    for selection in selections:
        running.append(pool.submit(build, selection, cap_bytes))
        if len(running) > _BUILD_THREADS:
            yield running.popleft().result()
    while running:
        yield running.popleft().result()


def _kept(values: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
    """The kept rows' values (the array itself when every row is kept)."""
    return values if keep is None else values[keep]


def _value_texts(values: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Per value its JSON text (Arrow's shortest round-trip form, integral values without
    ".0") and byte size. Few distinct values (daily quantities usually are) are formatted once
    each and taken, which is about twice as fast as formatting every row."""
    text = pa.large_string()
    codes, distinct = pd.factorize(values)
    if len(distinct) * 4 > len(values):
        texts = pa.array(values).cast(text)
        return texts, pc.binary_length(texts).to_numpy().astype(np.int64)
    distinct_texts = pa.array(distinct).cast(text)
    sizes = pc.binary_length(distinct_texts).to_numpy().astype(np.int64)
    return distinct_texts.take(pa.array(codes)), sizes[codes]


def _demand_fragments(
    series_loc: np.ndarray,
    series_code: np.ndarray,
    series_starts: np.ndarray,
    days: np.ndarray,
    quantity: np.ndarray,
    rows: _DemandRows,
    room: int,
) -> _DemandObjects:
    """The JSON text of every demand object (see `_DemandObjects`). Rows are sorted
    by (series, day); `series_loc` / `series_code` index the JSON texts of `rows` (and its
    workspaces, which are per location) for each series."""
    n_rows = len(days)
    text = pa.large_string()
    # Format each calendar day once, then take: far cheaper than formatting every row.
    first_day = int(days.min())
    calendar = np.arange(first_day, int(days.max()) + 1, dtype=np.int64).view("datetime64[D]")
    calendar_text = pa.array(calendar).cast(text)
    calendar_sizes = pc.binary_length(calendar_text).to_numpy().astype(np.int64)
    day_index = days - first_day
    date_text = calendar_text.take(pa.array(day_index))
    qty_text, qty_sizes = _value_texts(quantity)
    # Each value costs its text plus `","` around a date and `,` after a quantity.
    cum_cost = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(calendar_sizes[day_index] + qty_sizes + 4, out=cum_cost[1:])
    del qty_sizes, day_index

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

    object_starts, split_series = _object_starts(
        series_starts, series_fixed, cum_cost, n_rows, room
    )
    object_series = np.searchsorted(series_starts, object_starts, side="right") - 1
    bounds = np.append(object_starts, n_rows).astype(np.int64)

    def per_object(json_texts: _JsonTexts, index: np.ndarray) -> pa.Array:
        return json_texts.texts.take(pa.array(index[object_series]))

    def joined(values: pa.Array, separator: str) -> pa.Array:
        lists = pa.LargeListArray.from_arrays(pa.array(bounds), values)
        return pc.binary_join(lists, pa.scalar(separator, text))

    lit = [pa.scalar(s, text) for s in literals]
    fragments = pc.binary_join_element_wise(
        lit[0],
        per_object(rows.loc_json, series_loc),
        lit[1],
        per_object(rows.code_json, series_code),
        lit[2],
        per_object(rows.ws_json, series_loc),
        lit[3],
        joined(date_text, '","'),
        lit[4],
        joined(qty_text, ","),
        lit[5],
        pa.scalar("", text),
    )
    fragment_bytes = pc.binary_length(fragments).to_numpy().astype(np.int64)
    expected = series_fixed[object_series] + cum_cost[bounds[1:]] - cum_cost[bounds[:-1]]
    if not np.array_equal(fragment_bytes, expected):
        raise RuntimeError("demand fragment sizes differ from the computed sizes (a bug here)")

    return _DemandObjects(
        fragments, fragment_bytes, np.diff(bounds), len(series_starts), n_rows, split_series
    )


def _series_then_day_order(series_key: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Row order by (series, day). One int64 key sorts ~3x faster than a two-key lexsort; the
    stable sort (timsort) is also ~15x faster when the export is already in that order."""
    if len(days) == 0:
        return np.arange(0, dtype=np.int64)
    first_day, span = int(days.min()), int(days.max()) - int(days.min()) + 1
    if int(series_key.max()) < np.iinfo(np.int64).max // span - 1:
        return np.argsort(series_key * span + (days - first_day), kind="stable")
    return np.lexsort((days, series_key))


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
    bytes of objects, trailing commas included, one body can hold). Objects are cut straight
    out of Arrow's contiguous text buffers; a body's bytes are copied once, when it is joined."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.chunks: list[DemandChunk] = []
        self.parts: list[memoryview] = []  # text of the body being filled
        self.size = self.series = self.values = 0

    def add(self, objects: _DemandObjects) -> None:
        texts = objects.texts
        _, offsets_buffer, data_buffer = texts.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
            texts.offset : texts.offset + len(texts) + 1
        ]
        data = memoryview(data_buffer)
        cum = np.zeros(len(objects.sizes) + 1, dtype=np.int64)
        np.cumsum(objects.sizes, out=cum[1:])
        values = np.zeros(len(objects.sizes) + 1, dtype=np.int64)
        np.cumsum(objects.values_per_object, out=values[1:])
        first = 0
        while first < len(objects.sizes):
            last = int(np.searchsorted(cum, cum[first] + self.room - self.size, "right")) - 1
            if last == first:  # the next object does not fit: this body is full
                if not self.parts:
                    raise RuntimeError("a demand object larger than a body (a bug here)")
                self._close()
                continue
            self.parts.append(data[offsets[first] : offsets[last]])
            self.size += int(cum[last] - cum[first])
            self.series += last - first
            self.values += int(values[last] - values[first])
            first = last

    def finish(self) -> list[DemandChunk]:
        if self.parts:
            self._close()
        return self.chunks

    def _close(self) -> None:
        self.parts[-1] = self.parts[-1][:-1]  # the last object's trailing comma
        body = b"".join((_ENVELOPE_HEAD, *self.parts, _ENVELOPE_TAIL))
        self.chunks.append(
            DemandChunk(
                body=body,
                series=self.series,
                values=self.values,
                sha256=hashlib.sha256(body).hexdigest(),
            )
        )
        self.parts = []
        self.size = self.series = self.values = 0


def _epoch_days(column: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 per row as int32 (`_NO_DAY` for a missing date), converted a slice
    at a time so no full-length temporary is made. Raises on times of day: truncating them could
    merge two rows into one day."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_localize(None)
    if not pd.api.types.is_datetime64_dtype(column.dtype):
        raise TypeError(f"demand 'date' must be datetime64, not {column.dtype}")
    values = column.to_numpy()
    days = np.empty(len(values), dtype=np.int32)
    not_midnight = 0
    for start in range(0, len(values), _ROWS_PER_PASS):
        part = values[start : start + _ROWS_PER_PASS]
        whole = part.astype("datetime64[D]")
        missing = np.isnat(part)
        not_midnight += int((~missing & (whole != part)).sum())
        days[start : start + len(part)] = np.where(missing, _NO_DAY, whole.view(np.int64))
    if not_midnight:
        raise ValueError(f"{not_midnight} demand dates are not at midnight")
    return days
