"""The canonical ERP export contract: file kinds, columns, keys and dtypes after mapping.

Every other module (payload builders, validators, the sample generator) reads the shape of the
clean frames from here, so a column is renamed in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FileKind(StrEnum):
    """The three file kinds an ERP drop holds."""

    ITEMS = "items"
    PRODUCTS = "products"
    DEMAND = "demand"


class ColumnType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    EAN = "ean"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    # Numbers only: whether a negative value is a row fault.
    allow_negative: bool = True
    # Whether values repeat across many rows (days, quantities, a few locations): a CSV reader
    # then dictionary-encodes them as it converts, cheaper than hashing the text afterwards.
    repeats: bool = False


@dataclass(frozen=True)
class FileContract:
    kind: FileKind
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # demand: rows with the same key are order lines and are summed into a daily total;
    # items/products: a repeated key is a row fault (rejected, the first occurrence kept).
    sum_duplicates: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


T, N, D, E = ColumnType.TEXT, ColumnType.NUMBER, ColumnType.DATE, ColumnType.EAN

ITEMS = FileContract(
    kind=FileKind.ITEMS,
    columns=(
        Column("location", T, repeats=True),
        Column("code", T),
        Column("description", T, required=False),
        Column("material_type", T, required=False),
        Column("unit_of_measure", T, required=False),
        Column("currency", T, required=False),
        Column("unit_cost", N, required=False, allow_negative=False),
        Column("min_order_qty", N, required=False, allow_negative=False),
        Column("multiple_order_qty", N, required=False, allow_negative=False),
        Column("lead_time_days", N, required=False, allow_negative=False),
        Column("on_hand", N, allow_negative=False),
        Column("in_transit", N, required=False, allow_negative=False),
        Column("open_orders", N, required=False, allow_negative=False),
    ),
    key=("location", "code"),
)

DEMAND = FileContract(
    kind=FileKind.DEMAND,
    columns=(
        Column("date", D, repeats=True),
        Column("location", T, repeats=True),
        Column("code", T),
        Column("quantity", N, allow_negative=False, repeats=True),
    ),
    key=("date", "location", "code"),
    sum_duplicates=True,
)

PRODUCTS = FileContract(
    kind=FileKind.PRODUCTS,
    columns=(
        Column("ean", E),
        Column("name", T, required=False),
        Column("brand_name", T, required=False),
        Column("description", T, required=False),
        Column("short_description", T, required=False),
        Column("supplier_code", T, required=False),
        Column("reference", T, required=False),
        Column("status", T, required=False),
        Column("weight", N, required=False, allow_negative=False),
        Column("width", N, required=False, allow_negative=False),
        Column("height", N, required=False, allow_negative=False),
        Column("depth", N, required=False, allow_negative=False),
        Column("unit_of_measure", T, required=False),
        Column("external_id", T, required=False),
        Column("category_id", T, required=False),
        Column("upc", T, required=False),
        Column("gtin", T, required=False),
        Column("asin", T, required=False),
        Column("url_slug", T, required=False),
    ),
    key=("ean",),
)

CONTRACTS: dict[FileKind, FileContract] = {c.kind: c for c in (ITEMS, DEMAND, PRODUCTS)}
