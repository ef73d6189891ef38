"""Paqtana's request bodies, built from the clean ERP frames: the master inventory (one PUT that
replaces the whole org's inventory) and historical demand (POSTs that Paqtana merges per day and
item), plus the workspace checks that decide which rows can be sent at all.

Assumptions the vendor page does not confirm (each is a named constant below; copy to the README):

- ``INVENTORY_FIELD_NAMES`` / ``DEMAND_FIELD_NAMES``: the JSON shapes (``{"data": [...]}``,
  camelCase inventory fields, one demand object per location x code with parallel ``dates`` /
  ``quantities`` arrays) come from a public Odoo integration, not from the vendor.
- ``DEMAND_METHOD = "POST"``: the vendor page says POST; that integration used PUT.
- ``INVENTORY_REPLACE_SCOPE = "org"``: the PUT replaces the inventory of the whole org, so one
  request carries every workspace and is never split.
- ``AUTO_CALCULATE_PARAM``: the vendor page spells the query ``auto_calculate=True``; we send that
  literal string, only on the last demand request of a sync.
- ``MAX_BODY_BYTES`` / ``DEFAULT_BODY_CAP_BYTES``: the page says "32MB" without saying whether
  that is 32 MiB or 32,000,000 bytes; the default cap stays below both with 64 KiB to spare.
- ``WORKSPACE_CODES_PATH``: the workspace listing's shape (``[[name, code], ...]``) is evidence.
- ``ERROR_TYPE_FIELD`` / ``ERROR_DETAIL_PATH``: the error body's shape is evidence.
- Missing values are sent as JSON ``null`` (not 0, not omitted); integral numbers are written as
  integers (``12``, not ``12.0``); ``additionalColumns`` is always ``[]``.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.erp.contract import DEMAND, ITEMS, REJECT_COLUMNS, ColumnType

# --- Endpoints (relative to {base}/v2/org/{org}/) and methods -------------------------------------

# Vendor page: a standard PUT that replaces everything sent before.
MASTER_INVENTORY_METHOD = "PUT"
MASTER_INVENTORY_PATH = "master_inventory"
# Vendor page says POST; the public integration used PUT. Change it here only.
DEMAND_METHOD = "POST"
HISTORICAL_DEMAND_PATH = "historical_demand"
# Evidence: lists the org's workspaces; used as a pre-flight check.
WORKSPACES_METHOD = "GET"
WORKSPACES_PATH = "workspaces"
# Evidence: where the listing keeps its [[name, code], ...] pairs.
WORKSPACE_CODES_PATH = ("operation_info", "workspaces_info", "workspace_codes")
# Evidence: the error body's fields that a data engineer needs to read.
ERROR_TYPE_FIELD = "operation_type"
ERROR_DETAIL_PATH = ("operation_info", "validation_error")
# Vendor page: the last demand request of a sync asks Paqtana to recompute order suggestions.
AUTO_CALCULATE_PARAM = ("auto_calculate", "True")

# --- Sizes --------------------------------------------------------------------------------------

# Vendor page: "The maximum payload size is 32MB" (binary or decimal megabytes: not said).
MAX_BODY_BYTES = 32 * 1024 * 1024
# Below both readings of "32MB" (32,000,000 < 32 MiB) with 64 KiB headroom for proxies.
DEFAULT_BODY_CAP_BYTES = 32_000_000 - 64 * 1024

# --- Shapes -------------------------------------------------------------------------------------

# The PUT replaces the inventory of the org (vendor page), not of one workspace: one request
# carries all workspaces, so it must never be split (a second PUT would erase the first).
INVENTORY_REPLACE_SCOPE = "org"
# Evidence: contract column -> camelCase field, in the order the public integration sends them.
INVENTORY_FIELD_NAMES: Mapping[str, str] = {
    "location": "location",
    "code": "code",
    "description": "description",
    "material_type": "materialType",
    "multiple_order_qty": "multipleOrderQuantity",
    "currency": "currency",
    "unit_cost": "unitCost",
    "min_order_qty": "minimumOrderQuantity",
    "unit_of_measure": "unitOfMeasure",
    "lead_time_days": "supplyLeadTime",
    "on_hand": "onHandStock",
    "in_transit": "transitStock",
    "open_orders": "openDemandOrders",
}
# Evidence: a list of extra columns per row; we have none to send.
INVENTORY_ADDITIONAL_COLUMNS_FIELD = "additionalColumns"
# Vendor page + evidence: each row names its workspace because one request covers all of them.
WORKSPACE_FIELD = "workspaceCode"
# Evidence: one object per location x code, parallel arrays of daily totals sorted by date.
DEMAND_FIELD_NAMES = ("location", "code", WORKSPACE_FIELD, "dates", "quantities")

_ENVELOPE_HEAD = b'{"data":['
_ENVELOPE_TAIL = b"]}"
_ENVELOPE_BYTES = len(_ENVELOPE_HEAD) + len(_ENVELOPE_TAIL)
# Integers beyond this lose precision as float64, so they stay floats.
_MAX_EXACT_INT = 2.0**53
# A missing demand date among epoch days (int32).
_NO_DAY = np.iinfo(np.int32).min
# Rows converted per pass where a whole-column temporary would cost too much memory.
_ROWS_PER_PASS = 1 << 20


class PayloadTooLargeError(ValueError):
    """A body that cannot be sent as one request within the size cap."""


class EmptyPayloadError(ValueError):
    """Nothing left to send where sending nothing would be harmful (an empty inventory PUT would
    erase the org's inventory)."""


@dataclass(frozen=True)
class WorkspaceMapping:
    """Which Paqtana workspace each ERP location belongs to; `default` catches the rest. With no
    default, an unmapped location cannot be sent and its rows are rejected."""

    by_location: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __post_init__(self) -> None:
        bad = [loc for loc, ws in self.by_location.items() if not isinstance(ws, str) or not ws]
        if bad:
            raise ValueError(f"empty workspaceCode for locations {sorted(bad)!r}")
        if self.default is not None and not self.default:
            raise ValueError("default workspaceCode is empty; use None for no default")

    def workspace_for(self, location: str) -> str | None:
        return self.by_location.get(location, self.default)

    def known_locations(self) -> frozenset[str] | None:
        """Locations a row may carry; None when the default makes every location sendable."""
        return None if self.default else frozenset(self.by_location)


@dataclass(frozen=True)
class OrgWorkspaces:
    """The workspace codes an org really has (from `GET /workspaces`), for the pre-flight check."""

    org: str
    codes: frozenset[str]

    @classmethod
    def from_listing(cls, org: str, listing: Iterable[tuple[str, str]]) -> OrgWorkspaces:
        """From `PaqtanaClient.list_workspaces()`: (name, code) pairs."""
        return cls(org, frozenset(code for _name, code in listing))


class MasterInventory(NamedTuple):
    """The one PUT body, how many rows it holds, and the rows that could not be sent."""

    body: bytes
    rows: int
    rejects: pd.DataFrame

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


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


# --- Workspace checks ---------------------------------------------------------------------------


def filter_unknown_workspaces(
    frame: pd.DataFrame, workspaces: WorkspaceMapping, org_workspaces: OrgWorkspaces
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pre-flight: split `frame` into rows whose location maps to a workspace the org has and
    rejects for the others (unmapped location, or a workspaceCode the org does not have).
    The builders run the same check when given `org_workspaces`."""
    _require_columns(frame, ["location"], "frame")
    loc_codes, locations = pd.factorize(frame["location"], use_na_sentinel=True)
    collector = _RejectCollector(frame)
    _reject_unsendable_locations(
        collector, loc_codes, np.asarray(locations, dtype=object), workspaces, org_workspaces
    )
    return frame[collector.remaining], collector.frame()


def _location_workspaces(
    locations: np.ndarray, workspaces: WorkspaceMapping, org_workspaces: OrgWorkspaces | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unique location: its workspaceCode, whether it has none, whether the org lacks it."""
    codes = np.array([workspaces.workspace_for(loc) for loc in locations], dtype=object)
    unmapped = np.array([c is None for c in codes], dtype=bool)
    if org_workspaces is None:
        unknown = np.zeros(len(codes), dtype=bool)
    else:
        unknown = np.array(
            [c is not None and c not in org_workspaces.codes for c in codes], dtype=bool
        )
    return codes, unmapped, unknown


def _reject_unsendable_locations(
    collector: _RejectCollector,
    loc_codes: np.ndarray,
    locations: np.ndarray,
    workspaces: WorkspaceMapping,
    org_workspaces: OrgWorkspaces | None,
) -> np.ndarray:
    """Reject rows whose location has no workspace or an unknown one; return the workspace code
    per unique location (reasons are built per location, then taken per row)."""
    ws_codes, unmapped, unknown = _location_workspaces(locations, workspaces, org_workspaces)
    if len(locations) == 0:
        return ws_codes
    present = loc_codes >= 0
    safe = np.where(present, loc_codes, 0)
    no_mapping = np.array(
        [f"location '{loc}' has no {WORKSPACE_FIELD} mapping and no default" for loc in locations],
        dtype=object,
    )
    collector.reject(
        present & unmapped[safe],
        "location",
        lambda rows: locations[loc_codes[rows]],
        lambda rows: no_mapping[loc_codes[rows]],
    )
    if org_workspaces is not None and unknown.any():
        not_in_org = np.array(
            [
                f"{WORKSPACE_FIELD} '{ws}' does not exist in org '{org_workspaces.org}'"
                for ws in ws_codes
            ],
            dtype=object,
        )
        collector.reject(
            present & unknown[safe],
            WORKSPACE_FIELD,
            lambda rows: ws_codes[loc_codes[rows]],
            lambda rows: not_in_org[loc_codes[rows]],
        )
    return ws_codes


# --- Master inventory ---------------------------------------------------------------------------


def build_master_inventory(
    items: pd.DataFrame,
    workspaces: WorkspaceMapping,
    *,
    org_workspaces: OrgWorkspaces | None = None,
    cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
) -> MasterInventory:
    """The body of the one PUT that replaces the org's master inventory: every sendable item x
    location, ordered by (location, code). Raises PayloadTooLargeError when the serialized body
    exceeds `cap_bytes` (it cannot be split: the second PUT would erase the first), and
    EmptyPayloadError when no row is left (an empty PUT would erase everything)."""
    _require_columns(items, ["location", "code"], "items")
    collector = _RejectCollector(items)
    loc_rank, locations = _lexical_factorize(items["location"])
    code_rank, codes = _lexical_factorize(items["code"])
    collector.reject_missing(loc_rank < 0, "location")
    collector.reject_missing(code_rank < 0, "code")

    numeric = [c.name for c in ITEMS.columns if c.type == ColumnType.NUMBER and c.name in items]
    numbers = {name: items[name].to_numpy(dtype="float64", na_value=np.nan) for name in numeric}
    for name, values in numbers.items():
        collector.reject(
            np.isinf(values),
            name,
            lambda rows, values=values: values[rows].astype(str),
            f"{INVENTORY_FIELD_NAMES[name]} must be a finite number",
        )
    ws_codes = _reject_unsendable_locations(
        collector, loc_rank, locations, workspaces, org_workspaces
    )

    keep = collector.remaining
    order = np.flatnonzero(keep)[np.lexsort((code_rank[keep], loc_rank[keep]))]
    key = loc_rank[order].astype(np.int64) * max(len(codes), 1) + code_rank[order]
    if len(key) > 1 and (key[1:] == key[:-1]).any():
        dupes = int((key[1:] == key[:-1]).sum())
        raise ValueError(
            f"items hold {dupes} repeated (location, code) rows; ingestion must "
            "keep one per key before the payload is built"
        )
    if len(order) == 0:
        raise EmptyPayloadError(
            "no master inventory row is left to send; refusing to build an empty PUT, which "
            f"would erase the whole {INVENTORY_REPLACE_SCOPE}'s inventory in Paqtana"
        )

    no_extra_columns: list[object] = []
    columns: dict[str, list[object]] = {}
    for name, wire in INVENTORY_FIELD_NAMES.items():
        if name in numbers:
            columns[wire] = _json_numbers(numbers[name][order])
        elif name in items:
            columns[wire] = _json_texts(items[name], order)
        else:
            columns[wire] = [None] * len(order)
    columns[INVENTORY_ADDITIONAL_COLUMNS_FIELD] = [no_extra_columns] * len(order)
    columns[WORKSPACE_FIELD] = ws_codes[loc_rank[order]].tolist()
    # Items are small (one row per item x location): Python dicts are fine here.
    keys = list(columns)
    rows = [dict(zip(keys, v, strict=True)) for v in zip(*columns.values(), strict=True)]
    body = orjson.dumps({"data": rows})
    if len(body) > cap_bytes:
        raise PayloadTooLargeError(
            f"master inventory body is {len(body):,} bytes, over the {cap_bytes:,}-byte cap; "
            f"it is not split because each PUT replaces the whole {INVENTORY_REPLACE_SCOPE}'s "
            "inventory, so a second request would erase the first"
        )
    return MasterInventory(body, len(rows), collector.frame())


def _json_numbers(values: np.ndarray) -> list[object]:
    """float64 -> JSON-ready values: NaN -> None (decided here, not by orjson), integral -> int."""
    out = values.astype(object)
    missing = np.isnan(values)
    integral = ~missing & (np.abs(values) < _MAX_EXACT_INT) & (values == np.trunc(values))
    out[integral] = values[integral].astype(np.int64)
    out[missing] = None
    return out.tolist()


def _json_texts(column: pd.Series, order: np.ndarray) -> list[object]:
    values = column.to_numpy(dtype=object)[order]
    missing = pd.isna(values)
    values[missing] = None
    return values.tolist()


# --- Historical demand --------------------------------------------------------------------------


def build_historical_demand_chunks(
    demand: pd.DataFrame,
    workspaces: WorkspaceMapping,
    cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    *,
    org_workspaces: OrgWorkspaces | None = None,
) -> DemandChunks:
    """POST bodies of at most `cap_bytes` each (measured), one object per (location, code) with
    its days sorted, objects ordered by (location, code). A series is only split (by date) when
    it alone exceeds the cap. Vectorised: the JSON text is built by Arrow kernels, so Python
    work is per chunk and per unique location/code, never per row."""
    rows = _DemandRows.prepare(demand, workspaces, org_workspaces, cap_bytes)
    return rows.build([None], cap_bytes)


# Rows the builder takes in one go: its working memory follows this, not the whole range.
DEMAND_ROWS_PER_BUILD = 500_000
# Groups of rows built side by side.
_BUILD_THREADS = 2


def build_historical_demand_chunks_bounded(
    demand: pd.DataFrame,
    workspaces: WorkspaceMapping,
    cap_bytes: int = DEFAULT_BODY_CAP_BYTES,
    *,
    org_workspaces: OrgWorkspaces | None = None,
    rows_per_build: int = DEMAND_ROWS_PER_BUILD,
) -> DemandChunks:
    """`build_historical_demand_chunks` in bounded memory: whole series are split into groups
    (by code) of about `rows_per_build` rows whose objects are built two groups at a time and
    packed in group order. Same rules for every body (cap, whole series, full bodies); a range of
    10M daily values builds in well under 1 GB instead of about 1.6 GB."""
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
        _require_columns(demand, DEMAND.names, "demand")
        collector = _RejectCollector(demand)
        loc_rank, locations = _lexical_factorize(demand["location"])
        code_rank, codes = _lexical_factorize(demand["code"])
        days = _epoch_days(demand["date"])
        quantity = _float_values(demand["quantity"])

        collector.reject_missing(days == _NO_DAY, "date")
        collector.reject_missing(loc_rank < 0, "location")
        collector.reject_missing(code_rank < 0, "code")
        collector.reject(
            ~(np.isfinite(quantity) & (quantity >= 0)),
            "quantity",
            lambda rows: quantity[rows].astype(str),
            "quantity must be a finite number >= 0",
        )
        ws_codes = _reject_unsendable_locations(
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


# --- Shared helpers -----------------------------------------------------------------------------


def _require_columns(frame: pd.DataFrame, names: Iterable[str], what: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}")


def _lexical_factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """int32 codes whose order is the text order of the values (-1 for missing), plus the
    values. Categoricals are re-ranked: their own category order need not be lexical."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = np.asarray(column.cat.categories.astype(str), dtype=object)
        by_text = np.argsort(categories, kind="stable")
        # One take per row; the extra last slot maps a missing value's code -1 to -1.
        rank = np.full(len(categories) + 1, -1, dtype=np.int32)
        rank[by_text] = np.arange(len(categories), dtype=np.int32)
        return rank[column.cat.codes.to_numpy()], categories[by_text]
    codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def _float_values(column: pd.Series) -> np.ndarray:
    """float64 per row, NaN for missing; the column's own array when it already is one."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return column.to_numpy(dtype="float64", na_value=np.nan)


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


class _RejectCollector:
    """Rows rejected while building, first reason wins; the rest stay in `remaining`. File and
    line come from optional `source_file` / `source_line` columns of the input."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.source = frame
        self.remaining = np.ones(len(frame), dtype=bool)
        self.parts: list[pd.DataFrame] = []

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
        rows = np.flatnonzero(mask & self.remaining)
        if len(rows) == 0:
            return
        self.remaining[rows] = False
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
            return _empty_rejects()
        parts = pd.concat(self.parts, ignore_index=True).sort_values("_row", kind="stable")
        rows = parts["_row"].to_numpy()
        if "source_file" in self.source:
            files = self.source["source_file"].to_numpy(dtype=object)[rows]
            files = np.where(pd.isna(files), "", files)
        else:
            files = np.full(len(rows), "", dtype=object)
        if "source_line" in self.source:
            lines = pd.array(self.source["source_line"].to_numpy(dtype=object)[rows], dtype="Int64")
        else:
            lines = pd.array([pd.NA] * len(rows), dtype="Int64")
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


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": pd.Series([], dtype=object),
            "line": pd.Series([], dtype="Int64"),
            "field": pd.Series([], dtype=object),
            "value": pd.Series([], dtype=object),
            "reason": pd.Series([], dtype=object),
        },
        columns=REJECT_COLUMNS,
    )
