"""Fill gaps in the ERP products frame with PXM attribute values, joined on the EAN.

Precedence rule (copy this to the README):
- The ERP is the source of truth. A product field is taken from PXM ONLY when the ERP left it
  empty (missing, null/NaN, or text that is empty or only spaces). Where both have a value,
  the ERP value is kept, even if PXM's differs.
- Only the fields named in the mapping (PXM attribute label -> Pixee product field) are ever
  filled; the EAN itself is never changed.
- The join key is the EAN: the PXM attribute labelled `ean_label` ("EAN" by default), or the
  "GTIN" attribute when a collection has no usable EAN. Both sides are reduced to digits and
  compared as GTIN-14 (left-padded with zeros, the GS1 rule), so "3760 0000 0000 1",
  "3760000000001" and "03760000000001" are the same product.
- PXM collections whose EAN is not in the products frame are ignored (nothing is created).
- Several PXM collections with the same EAN: for each field, the value of the most recently
  updated collection (`updated_date`) that has one wins.
- Attribute labels are matched ignoring case and surrounding spaces. For number columns a PXM
  value that is not a plain number is ignored rather than guessed at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

DEFAULT_EAN_LABEL = "EAN"
# Used when a collection has no usable value under `ean_label`.
FALLBACK_EAN_LABELS = ("GTIN",)
# Example mapping; the real one comes from config.
EXAMPLE_MAPPING: Mapping[str, str] = {
    "Long Description": "description",
    "Short Description": "short_description",
    "URL Slug": "url_slug",
    "Category Id": "category_id",
}
EAN_COLUMN = "ean"


@dataclass(frozen=True)
class EnrichmentResult:
    frame: pd.DataFrame
    # Product rows filled from PXM, per mapped field (every mapped field is present).
    filled: dict[str, int]
    # Product rows whose EAN has a PXM collection.
    matched: int
    # Distinct EANs found in PXM, and how many of them more than one collection carries.
    pxm_eans: int = 0
    duplicate_eans: int = 0


def enrich_products(
    products: pd.DataFrame,
    collections: list[dict[str, Any]],
    mapping: Mapping[str, str],
    ean_label: str = DEFAULT_EAN_LABEL,
) -> EnrichmentResult:
    """A copy of `products` with empty mapped fields filled from PXM (see the module rule)."""
    fields_by_label = _check_mapping(mapping, products)
    fields = list(fields_by_label.values())
    pxm = pxm_values_by_ean(collections, fields_by_label, ean_label)
    by_ean = pxm.values
    key = gtin_key(products[EAN_COLUMN])
    aligned = by_ean.reindex(key.to_numpy())
    aligned.index = products.index
    has_pxm = key.isin(by_ean.index)

    frame = products.copy()
    filled: dict[str, int] = {}
    for field in fields:
        pxm_values = aligned[field]
        if pd.api.types.is_numeric_dtype(frame[field].dtype):
            pxm_values = pd.to_numeric(pxm_values, errors="coerce")
        gap = is_empty(frame[field]) & pxm_values.notna()
        filled[field] = int(gap.sum())
        if filled[field]:
            frame[field] = frame[field].mask(gap, pxm_values)
    return EnrichmentResult(
        frame=frame,
        filled=filled,
        matched=int(has_pxm.sum()),
        pxm_eans=len(by_ean),
        duplicate_eans=pxm.duplicate_eans,
    )


@dataclass(frozen=True)
class PxmValues:
    # One row per GTIN-14 key, one column per mapped product field (text or NaN).
    values: pd.DataFrame
    duplicate_eans: int


def pxm_values_by_ean(
    collections: Iterable[dict[str, Any]],
    fields_by_label: Mapping[str, str],
    ean_label: str = DEFAULT_EAN_LABEL,
) -> PxmValues:
    """The mapped attribute values of every collection that has an EAN, keyed by GTIN-14.
    `fields_by_label` keys are already normalised labels (see `label_key`)."""
    fields = list(dict.fromkeys(fields_by_label.values()))
    ean_keys = [label_key(ean_label), *(label_key(x) for x in FALLBACK_EAN_LABELS)]
    wanted = set(fields_by_label) | set(ean_keys)

    # The attributes are nested Python dicts, so one pass over them is unavoidable; it keeps
    # only the wanted labels (each distinct label normalised once) so the frames stay small.
    key_of_label: dict[str, str | None] = {}
    positions: list[int] = []
    labels: list[str] = []
    values: list[Any] = []
    updated: list[Any] = []
    for position, collection in enumerate(collections):
        updated.append(collection.get("updated_date"))
        for attribute in collection.get("attributes") or ():
            if not isinstance(attribute, dict):
                continue
            label = attribute.get("label")
            if not isinstance(label, str):
                continue
            if label not in key_of_label:
                normalised = label_key(label)
                key_of_label[label] = normalised if normalised in wanted else None
            if (wanted_label := key_of_label[label]) is not None:
                positions.append(position)
                labels.append(wanted_label)
                values.append(attribute.get("value"))
    long = pd.DataFrame(
        {"position": positions, "label": labels, "value": pd.Series(values, dtype="object")}
    )
    long["value"] = long["value"].map(attribute_text)
    # First non-empty value per collection and label (a label repeated within one collection).
    long = long.dropna(subset=["value"]).drop_duplicates(["position", "label"])
    wide = long.pivot(index="position", columns="label", values="value")

    key = pd.Series(pd.NA, index=wide.index, dtype="object")
    for ean_key in ean_keys:  # EAN first, then the fallbacks
        if ean_key in wide.columns:
            key = key.fillna(gtin_key(wide[ean_key]))
    by_field = pd.DataFrame(
        {field: _first_column(wide, fields_by_label, field) for field in fields},
        index=wide.index,
    )
    by_field["_key"] = key
    by_field["_updated"] = pd.to_datetime(
        pd.Series(updated, dtype="object").reindex(wide.index), utc=True, errors="coerce"
    )
    by_field = by_field.dropna(subset=["_key"])
    by_field = by_field.sort_values("_updated", ascending=False, kind="stable", na_position="last")
    per_key = by_field.groupby("_key", sort=False)
    counts = per_key.size()
    # groupby.first() takes the first non-null value per column: the latest collection's value.
    result = per_key[fields].first() if fields else pd.DataFrame(index=counts.index)
    result = result.reindex(columns=fields)
    result.index.name = None
    return PxmValues(values=result, duplicate_eans=int((counts > 1).sum()))


def _first_column(wide: pd.DataFrame, fields_by_label: Mapping[str, str], field: str) -> pd.Series:
    column = next((label for label, f in fields_by_label.items() if f == field), None)
    if column is None or column not in wide.columns:
        return pd.Series(pd.NA, index=wide.index, dtype="object")
    return wide[column].astype("object")


def gtin_key(eans: pd.Series) -> pd.Series:
    """EANs/GTINs as a join key: digits only, left-padded to 14 (GS1's GTIN-14 form), so an
    EAN-13, its GTIN-14 and a spaced spelling match. No digits or more than 14: missing."""
    digits = eans.astype("object").where(eans.notna()).astype("str")
    digits = digits.str.replace(r"\D", "", regex=True)
    usable = digits.notna() & digits.str.len().between(1, 14)
    return digits.where(usable).str.zfill(14).astype("object").where(usable)


def is_empty(column: pd.Series) -> pd.Series:
    """Missing, or text that is empty or only spaces."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.isna()
    try:
        blank = column.astype("object").str.strip().eq("")
    except AttributeError:  # an object column with no text at all has no blank text
        return column.isna()
    return column.isna() | blank


def label_key(label: Any) -> str:
    """How attribute labels are compared: case and surrounding spaces ignored."""
    return str(label).strip().casefold()


def attribute_text(value: Any) -> str | None:
    """A PXM attribute value as product text. ASSUMPTION (the value shape is not public):
    scalars as text, lists joined with ", ", objects by their value/label/name."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict):
        for key in ("value", "label", "name"):
            if key in value:
                return attribute_text(value[key])
        return None
    if isinstance(value, list | tuple):
        parts = [text for item in value if (text := attribute_text(item)) is not None]
        return ", ".join(parts) or None
    return None


def _check_mapping(mapping: Mapping[str, str], products: pd.DataFrame) -> dict[str, str]:
    """Normalised label -> product field; a config mistake fails here, naming it."""
    if EAN_COLUMN not in products.columns:
        raise ValueError(f"products frame has no {EAN_COLUMN!r} column to join PXM on")
    if not mapping:
        raise ValueError("PXM enrichment mapping is empty: map at least one attribute label")
    fields_by_label: dict[str, str] = {}
    seen_fields: dict[str, str] = {}
    for label, field in mapping.items():
        if not isinstance(label, str) or not label.strip() or not isinstance(field, str):
            raise ValueError(f"PXM mapping entry {label!r} -> {field!r} is not label -> field")
        key = label_key(label)
        if key in fields_by_label:
            raise ValueError(f"PXM mapping names the label {label!r} twice (case is ignored)")
        if field == EAN_COLUMN:
            raise ValueError("PXM mapping may not fill 'ean': it is the join key")
        if field not in products.columns:
            raise ValueError(
                f"PXM mapping fills {field!r} (from label {label!r}), which is not a products "
                f"column; columns are {', '.join(map(str, products.columns))}"
            )
        if field in seen_fields:
            raise ValueError(
                f"PXM mapping fills {field!r} from both {seen_fields[field]!r} and {label!r}"
            )
        seen_fields[field] = label
        fields_by_label[key] = field
    return fields_by_label
