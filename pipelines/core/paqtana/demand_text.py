"""The JSON text of historical demand: each distinct value's literal once, each group's objects
written by one Arrow `take` from a dictionary of every token a body holds, and the objects
packed in order into bodies of at most the cap (measured), each with its SHA-256."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.packed_sort import run_starts, smallest_uint
from pipelines.core.paqtana.contract import DEMAND_FIELD_NAMES, PayloadTooLargeError
from pipelines.core.paqtana.demand_rows import DemandGroup

_ENVELOPE_HEAD = b'{"data":['
_ENVELOPE_TAIL = b"]}"
ENVELOPE_BYTES = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)
# Arrow's type for the JSON texts: 32-bit offsets, so one group's text is under 2 GiB.
_TEXT = pa.string()
# Quantities are looked up a slice of this many rows at a time (`encode_quantities`).
_ENCODE_ROWS = 1 << 20
# The characters JSON (and orjson) write escaped in a string.
_JSON_ESCAPED = r'[\x00-\x1f"\\]'


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
class JsonTexts:
    """Distinct values as JSON literals (an Arrow array to take from) and their UTF-8 sizes."""

    texts: pa.Array
    sizes: np.ndarray

    @classmethod
    def of(cls, values: Iterable[object]) -> JsonTexts:
        """Each value's text (`str`) as a JSON string, as orjson writes it. A text with no
        quote, backslash or control character (nearly every code) is only put in quotes, by
        one Arrow kernel for all of them: 100k codes in 10 ms, not 80 ms one by one."""
        raw = pa.array([str(v) for v in values], type=_TEXT)
        quote = pa.scalar('"', _TEXT)
        texts = pc.binary_join_element_wise(quote, raw, quote, pa.scalar("", _TEXT))
        escape = pc.match_substring_regex(raw, _JSON_ESCAPED)
        if pc.any(escape).as_py():
            # Decoded at once: orjson's bytes carry kilobytes of spare capacity each.
            escaped = [orjson.dumps(v).decode() for v in raw.filter(escape).to_pylist()]
            texts = pc.replace_with_mask(texts, escape, pa.array(escaped, type=_TEXT))
        return cls(texts, pc.binary_length(texts).to_numpy().astype(np.int64))


@dataclass(frozen=True)
class Tokens:
    """Texts of one kind of value as they appear in a body: the first of an object's list
    (`plain`) and each later one after its separator (`separated`), with their UTF-8 sizes."""

    plain: pa.Array
    separated: pa.Array
    sizes: np.ndarray  # of `plain`; a separated text is len(separator) longer

    @classmethod
    def of(cls, texts: pa.Array, separator: str) -> Tokens:
        text = _TEXT
        separated = pc.binary_join_element_wise(
            pa.scalar(separator, text), texts, pa.scalar("", text)
        )
        return cls(texts, separated, pc.binary_length(texts).to_numpy().astype(np.int64))


@dataclass(frozen=True)
class DemandText:
    """What every group's text is made from: how a row key splits into series and day, and the
    JSON text of each distinct location, code, workspace (per location), day and quantity (None:
    quantities are values, formatted per row)."""

    code_bits: int
    day_bits: int
    loc_json: JsonTexts
    code_json: JsonTexts
    ws_json: JsonTexts
    days: Tokens
    quantities: Tokens | None


@dataclass(frozen=True)
class DemandObjects:
    """Demand objects as JSON text, each followed by a comma, back to back in one buffer:
    object i is `data[bounds[i]:bounds[i + 1]]`; its daily values; the series they come from
    and how many were split for size."""

    data: pa.Buffer
    bounds: np.ndarray
    values_per_object: np.ndarray
    series: int
    values: int
    split_series: int


def encode_quantities(
    quantity: np.ndarray, rows_per_slice: int = _ENCODE_ROWS
) -> tuple[np.ndarray, pa.Array | None]:
    """Each row's quantity as a code into the distinct quantities, and their JSON texts (Arrow's
    shortest round-trip form, integral values without ".0"): daily quantities repeat, so each
    is formatted once. When most values are distinct: the values themselves and None."""
    values = pa.array(quantity, type=pa.float64())
    distinct = pc.unique(values)  # in first-seen order, as `dictionary_encode` would give
    if len(distinct) * 4 > len(quantity):
        return quantity, None
    # Looked up a slice at a time into the narrow codes: one `dictionary_encode` of the whole
    # column would first write 4 bytes a row (40 MB at 10M rows, where the build peaks).
    codes = np.empty(len(quantity), dtype=smallest_uint(len(distinct)))
    for start in range(0, len(quantity), rows_per_slice):
        found = pc.index_in(values.slice(start, rows_per_slice), value_set=distinct)
        codes[start : start + len(found)] = found.to_numpy(zero_copy_only=False)
    return codes, distinct.cast(_TEXT)


def demand_objects(group: DemandGroup, text: DemandText, room: int) -> DemandObjects | None:
    """The JSON text of a group's demand objects (see `DemandObjects`): one Arrow `take` from
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
    day = (keys & ((1 << text.day_bits) - 1)).astype(np.int32)
    series_key = keys >> text.day_bits
    series_starts = run_starts(series_key)
    first_keys = series_key[series_starts]
    del series_key
    series_loc = first_keys >> text.code_bits
    series_code = first_keys & ((1 << text.code_bits) - 1)
    literals = _demand_literals()
    # Bytes of one fragment (object + trailing comma) outside its values; the last value has
    # no separators, hence -4.
    series_fixed = (
        sum(len(lit.encode()) for lit in literals)
        + text.loc_json.sizes[series_loc]
        + text.code_json.sizes[series_code]
        + text.ws_json.sizes[series_loc]
        - 4
    )
    if text.quantities is None:
        quantity = Tokens.of(pa.array(group.quantity).cast(_TEXT), ",")
        quantity_code = np.arange(n_rows, dtype=np.int32)
    else:
        quantity, quantity_code = text.quantities, group.quantity
    object_starts, split_series = _split_objects(
        series_starts, series_fixed, day, quantity_code, text.days, quantity, room
    )
    object_series = (
        np.arange(len(series_starts))
        if split_series == 0
        else np.searchsorted(series_starts, object_starts, side="right") - 1
    )
    lit = [pa.scalar(s, _TEXT) for s in literals]
    prefixes = pc.binary_join_element_wise(
        lit[0],
        text.loc_json.texts.take(pa.array(series_loc)),
        lit[1],
        text.code_json.texts.take(pa.array(series_code)),
        lit[2],
        text.ws_json.texts.take(pa.array(series_loc)),
        lit[3],
        pa.scalar("", _TEXT),
    )
    dictionary = pa.concat_arrays(
        [
            prefixes,
            text.days.plain,
            text.days.separated,
            quantity.plain,
            quantity.separated,
            pa.array([literals[4], literals[5]], _TEXT),
        ]
    )
    days_at = len(prefixes)
    quantities_at = days_at + 2 * len(text.days.plain)
    middle_at = quantities_at + 2 * len(quantity.plain)
    index = _token_index(
        object_starts,
        object_series,
        n_rows,
        (day, days_at, len(text.days.plain)),
        (quantity_code, quantities_at, len(quantity.plain)),
        middle_at,
    )
    written = dictionary.take(pa.array(index))
    del index, dictionary
    _, offsets_buffer, data = written.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[written.offset :]
    bounds = np.append(2 * object_starts + 3 * np.arange(len(object_starts)), len(written))
    return DemandObjects(
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
    days: Tokens,
    quantities: Tokens,
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


class BodyPacker:
    """Greedy packing in order: each body takes as many whole objects as fit in `room` (the
    bytes of objects, trailing commas included, one body can hold). Objects are copied straight
    out of Arrow's text buffer into the body being filled, once, so a group's text is freed as
    soon as it is packed (a BytesIO hands its buffer over as the body without another copy).
    A full body's SHA-256 is worked out on a thread of its own while the next bodies are packed
    (hashlib releases the GIL: 0.17 s of 184 MB of bodies off the packing thread); `finish` ends
    that thread, and so does leaving a `with` block, if packing fails before."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.body: io.BytesIO | None = None  # the body being filled, envelope head included
        self.size = self.series = self.values = 0
        self._hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="body-sha256")
        self._closed: list[tuple[bytes, int, int, Future[str]]] = []

    def __enter__(self) -> BodyPacker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._hashing.shutdown(wait=True, cancel_futures=True)

    def add(self, objects: DemandObjects) -> None:
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
        chunks = [
            DemandChunk(body=text, series=series, values=values, sha256=sha256.result())
            for text, series, values, sha256 in self._closed
        ]
        self._closed = []
        self._hashing.shutdown(wait=True)
        return chunks

    def _close(self) -> None:
        body = self.body
        body.seek(-1, io.SEEK_END)  # over the last object's trailing comma
        body.write(_ENVELOPE_TAIL)
        text = body.getvalue()
        self._closed.append((text, self.series, self.values, self._hashing.submit(_sha256, text)))
        self.body = None
        self.size = self.series = self.values = 0


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
