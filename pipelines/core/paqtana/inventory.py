"""The master inventory body: ONE `PUT master_inventory` that replaces the org's whole inventory
with every sendable item x location, ordered by (location, code)."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import orjson
import pandas as pd

from pipelines.core.erp.contract import ITEMS, ColumnType
from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana.columns import lexical_factorize, require_columns
from pipelines.core.paqtana.contract import (
    DEFAULT_BODY_CAP_BYTES,
    INVENTORY_ADDITIONAL_COLUMNS_FIELD,
    INVENTORY_FIELD_NAMES,
    INVENTORY_REPLACE_SCOPE,
    WORKSPACE_FIELD,
    EmptyPayloadError,
    PayloadTooLargeError,
)
from pipelines.core.paqtana.workspaces import OrgWorkspaces, reject_unsendable_locations
from pipelines.core.rejects import RejectCollector

# Integers beyond this lose precision as float64, so they stay floats.
_MAX_EXACT_INT = 2.0**53


class MasterInventory(NamedTuple):
    """The one PUT body, how many rows it holds, and the rows that could not be sent."""

    body: bytes
    rows: int
    rejects: pd.DataFrame

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


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
    require_columns(items, ["location", "code"], "items")
    collector = RejectCollector(items)
    loc_rank, locations = lexical_factorize(items["location"])
    code_rank, codes = lexical_factorize(items["code"])
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
    ws_codes = reject_unsendable_locations(
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
