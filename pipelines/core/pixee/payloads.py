"""Pixee PIM's product shapes: the upsert body built from the clean products frame, its content
hash, the batch split, and how a batch answer reports each product.

Field names and the 500-product cap come from the vendor page (pixee-external-api.txt). What the
page does not show (how a failed item in a batch answer looks) is named below as an assumption,
so it changes in one place.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from pipelines.core.erp.contract import PRODUCTS, ColumnType

# Vendor page: "Upserts up to 500 products in a single request".
MAX_BATCH = 500

# Vendor page, "Product fields": everything POST/PUT/PATCH accept.
WRITABLE_FIELDS: tuple[str, ...] = (
    "ean",
    "name",
    "brand_name",
    "description",
    "short_description",
    "reference",
    "supplier_code",
    "category_id",
    "asin",
    "upc",
    "gtin",
    "status",
    "is_active",
    "weight",
    "width",
    "height",
    "depth",
    "unit_of_measure",
    "external_id",
    "url_slug",
)


# Contract columns sent to Pixee, in contract order (which fixes each product's key order). The
# contract's product columns carry Pixee's field names, so no renaming happens.
SENT_COLUMNS: tuple[str, ...] = tuple(n for n in PRODUCTS.names if n in WRITABLE_FIELDS)
NUMBER_COLUMNS = frozenset(
    c.name for c in PRODUCTS.columns if c.type is ColumnType.NUMBER and c.name in SENT_COLUMNS
)

# Batch answer, per item. Vendor page: successes look like {"ean", "status": "created"|"updated",
# "id"}. ASSUMPTION (not shown by the vendor): a failed item is {"ean", "status": "error",
# "error": "<message>"}; "message" or "errors" (a string or a list of strings) are read too.
# Any status other than the accepted ones counts as a failure, so the product is sent again.
ACCEPTED_STATUSES = frozenset({"created", "updated"})
RESULT_MESSAGE_KEYS: tuple[str, ...] = ("error", "message", "errors")


def build_products(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One upsert body per row of the clean products frame.

    A missing value (NA/None/NaN, blank text, non-finite number) is left out of the body rather
    than sent as null: POST upsert "updates non-null fields", so an absent field keeps what
    Pixee holds, while a null or "" could erase it. Works column by column, touching only the
    values present, so 100k rows stay well under a second.
    """
    if "ean" not in frame.columns:
        raise ValueError("products frame has no 'ean' column")
    eans = frame["ean"].astype("string")
    if eans.isna().any():
        raise ValueError("products frame has rows without an EAN; ingestion should reject them")
    products: list[dict[str, Any]] = [{"ean": ean} for ean in eans.tolist()]
    for name in SENT_COLUMNS:
        if name == "ean" or name not in frame.columns:
            continue
        rows, values = _present_values(frame[name], numeric=name in NUMBER_COLUMNS)
        for row, value in zip(rows, values, strict=True):
            products[row][name] = value
    return products


def _present_values(series: pd.Series, *, numeric: bool) -> tuple[list[int], list[Any]]:
    """Row positions holding a value, and those values as plain Python str/float."""
    if numeric:
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        rows = np.flatnonzero(np.isfinite(numbers))
        return rows.tolist(), numbers[rows].tolist()
    text = series.astype("string")
    present = text.str.strip().fillna("").ne("").to_numpy(dtype=bool)
    rows = np.flatnonzero(present)
    return rows.tolist(), text.to_numpy(dtype=object)[rows].tolist()


def content_hash(product: Mapping[str, Any]) -> str:
    """A digest that changes exactly when the body Pixee would receive changes (key order
    does not matter), so the last synced hash tells whether a product needs sending."""
    return hashlib.sha256(orjson.dumps(product, option=orjson.OPT_SORT_KEYS)).hexdigest()


def batches(
    products: Sequence[dict[str, Any]], size: int = MAX_BATCH
) -> list[list[dict[str, Any]]]:
    """Consecutive slices of at most `size` products, the unit of one batch request."""
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH}, got {size}")
    return [list(products[i : i + size]) for i in range(0, len(products), size)]


def batch_body(products: Sequence[Mapping[str, Any]]) -> bytes:
    """The JSON body of POST /products/batch (vendor page: {"products": [...]})."""
    return orjson.dumps({"products": list(products)})


def result_message(item: Mapping[str, Any]) -> str:
    """The vendor's explanation for one batch result item, whichever key it used."""
    for key in RESULT_MESSAGE_KEYS:
        value = item.get(key)
        if isinstance(value, list | tuple):
            text = "; ".join(str(v) for v in value if v not in (None, ""))
        elif value is None:
            text = ""
        else:
            text = str(value)
        if text:
            return text
    status = item.get("status")
    return f"status {status!r} without a message" if status else "no status in the answer"
