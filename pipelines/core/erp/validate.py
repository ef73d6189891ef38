"""Row-level validation: typed columns out of text, and a reason for every row that is refused.

Vectorised per column (one boolean mask per fault), so a million rows cost a few column
operations rather than a Python loop. A row with several faults gets one reject entry per field.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from stdnum import ean as stdnum_ean

from pipelines.core.erp.contract import REJECT_COLUMNS, ColumnType, FileContract
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.reader import LINE


@dataclass
class Validated:
    """Typed clean rows (with `_line`) and the reject entries for the refused ones."""

    clean: pd.DataFrame
    rejects: pd.DataFrame


class _Faults:
    def __init__(self, frame: pd.DataFrame, file: str) -> None:
        self.frame = frame
        self.file = file
        self.bad = np.zeros(len(frame), dtype=bool)
        self.parts: list[pd.DataFrame] = []

    def add(
        self,
        mask: np.ndarray | pd.Series,
        field: str,
        reason: str | pd.Series,
        values: pd.Series | None = None,
    ) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.bad
        if not mask.any():
            return
        self.bad |= mask
        values = self.frame[field] if values is None else values
        reasons = reason[mask] if isinstance(reason, pd.Series) else reason
        self.parts.append(
            pd.DataFrame(
                {
                    "file": self.file,
                    "line": self.frame[LINE].to_numpy()[mask],
                    "field": field,
                    "value": np.asarray(values, dtype=object)[mask],
                    "reason": reasons
                    if isinstance(reasons, str)
                    else np.asarray(reasons, dtype=object),
                }
            )
        )

    def rejects(self) -> pd.DataFrame:
        if not self.parts:
            return empty_rejects()
        return pd.concat(self.parts, ignore_index=True)[REJECT_COLUMNS]


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in REJECT_COLUMNS})


def parse_numbers(text: pd.Series, dialect: FileDialect) -> pd.Series:
    """Text -> float64 (NaN where empty or unparseable), honouring the dialect's separators."""
    cleaned = (
        text.str.strip().str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    )
    if dialect.thousands:
        cleaned = cleaned.str.replace(dialect.thousands, "", regex=False)
    if dialect.decimal != ".":
        cleaned = cleaned.str.replace(dialect.decimal, ".", regex=False)
    return pd.to_numeric(cleaned.where(cleaned != "", None), errors="coerce").astype("float64")


def parse_dates(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    """Text -> datetime64 (NaT where no format fits); each format tried on what is left."""
    stripped = text.str.strip()
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = result.isna() & (stripped != "")
        if not todo.any():
            break
        result[todo] = pd.to_datetime(stripped[todo], format=fmt, errors="coerce")
    return result


def normalise_eans(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """EAN text -> (normalised EAN or "", reason or ""). Spaces and a trailing ".0" from Excel
    are removed; leading zeros Excel dropped are restored when the padded code is valid."""
    digits = text.str.strip().str.replace(r"[\s\u00a0-]", "", regex=True).str.removesuffix(".0")
    unique = pd.unique(digits)
    verdicts: dict[str, tuple[str, str]] = {}
    for code in unique:
        verdicts[code] = _judge_ean(code)
    normalised = digits.map(lambda c: verdicts[c][0])
    reasons = digits.map(lambda c: verdicts[c][1])
    return normalised, reasons


def _judge_ean(code: str) -> tuple[str, str]:
    if not code.isdigit():
        return "", "EAN must contain digits only"
    if len(code) in (8, 13) and stdnum_ean.is_valid(code):
        return code, ""
    # Excel drops the leading zeros of a numeric cell: restore one or two, never more, so a
    # truncated code is not "repaired" into some other valid EAN by chance.
    width = {7: 8, 6: 8, 12: 13, 11: 13}.get(len(code))
    if width and stdnum_ean.is_valid(code.zfill(width)):
        return code.zfill(width), ""
    if len(code) in (8, 13):
        return "", "invalid EAN check digit"
    return "", f"EAN must have 8 or 13 digits, got {len(code)}"


def validate_rows(
    frame: pd.DataFrame,
    contract: FileContract,
    dialect: FileDialect,
    file: str,
    known_locations: Collection[str] | None = None,
) -> Validated:
    """Type every column and refuse rows that cannot be sent, with file, line, field and reason."""
    faults = _Faults(frame, file)
    typed = pd.DataFrame({LINE: frame[LINE].to_numpy()}, index=frame.index)
    for column in contract.columns:
        text = frame[column.name].astype(str)
        empty = text.str.strip() == ""
        if column.required:
            faults.add(empty, column.name, "required value missing")
        if column.type is ColumnType.TEXT:
            typed[column.name] = text.str.strip().where(~empty, None)
        elif column.type is ColumnType.NUMBER:
            numbers = parse_numbers(text, dialect)
            faults.add(numbers.isna() & ~empty, column.name, "not a number")
            faults.add(~np.isfinite(numbers) & numbers.notna(), column.name, "not a finite number")
            if not column.allow_negative:
                faults.add(numbers < 0, column.name, "negative value not allowed")
            typed[column.name] = numbers
        elif column.type is ColumnType.DATE:
            dates = parse_dates(text, dialect.date_formats)
            wanted = " or ".join(dialect.date_formats)
            faults.add(dates.isna() & ~empty, column.name, f"not a date in format {wanted}")
            typed[column.name] = dates
        elif column.type is ColumnType.EAN:
            normalised, reasons = normalise_eans(text)
            faults.add((reasons != "") & ~empty, column.name, reasons)
            typed[column.name] = normalised.where(normalised != "", None)
    if known_locations is not None and "location" in contract.names:
        unknown = typed["location"].notna() & ~typed["location"].isin(list(known_locations))
        faults.add(
            unknown,
            "location",
            "unknown location: not in the locations file and no default workspace",
        )
    clean = typed[~faults.bad]
    if not contract.sum_duplicates:
        clean, dup_rejects = drop_duplicate_keys(clean, contract, file)
        rejects = pd.concat([faults.rejects(), dup_rejects], ignore_index=True)
    else:
        rejects = faults.rejects()
    return Validated(clean=clean.reset_index(drop=True), rejects=rejects)


def drop_duplicate_keys(
    clean: pd.DataFrame, contract: FileContract, file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    key = list(contract.key)
    dup = clean.duplicated(subset=key, keep="first")
    if not dup.any():
        return clean, empty_rejects()
    first_line = clean.groupby(key, sort=False)[LINE].transform("first")
    key_text = clean[key].astype(str).agg(" + ".join, axis=1)
    rejects = pd.DataFrame(
        {
            "file": file,
            "line": clean.loc[dup, LINE].to_numpy(),
            "field": "+".join(key),
            "value": key_text[dup].to_numpy(),
            "reason": (
                "duplicate key, first seen on line " + first_line[dup].astype(str)
            ).to_numpy(),
        }
    )
    return clean[~dup], rejects
