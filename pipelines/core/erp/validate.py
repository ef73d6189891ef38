"""Row-level validation: typed columns out of text, and a reason for every row that is refused.

Works on dictionary-encoded blocks: every check runs once per distinct value of a column (a
demand file of 10M rows has a few hundred distinct dates and quantities), then one array take
spreads the verdict over the rows. A row gets one reject entry: its first fault in contract
column order.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
from stdnum import ean as stdnum_ean

from pipelines.core.erp.contract import Column, ColumnType, FileContract
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.reader import LINE, TextBlock, TextColumn
from pipelines.core.rejects import concat_rejects, empty_rejects, reject_frame

__all__ = [
    "CheckedBlock",
    "TypedColumn",
    "UNKNOWN_LOCATION",
    "Validated",
    "check_block",
    "drop_duplicate_keys",
    "empty_rejects",
    "normalise_eans",
    "parse_dates",
    "parse_numbers",
    "validate_rows",
]

FILE = "_file"  # source file column of rows gathered from several files
UNKNOWN_LOCATION = "unknown location: not in the locations file and no default workspace"


@dataclass
class Validated:
    """Typed clean rows (with `_line`) and the reject entries for the refused ones."""

    clean: pd.DataFrame
    rejects: pd.DataFrame


@dataclass(frozen=True)
class TypedColumn:
    """A typed column of a block: row i holds `values[codes[i]]`, code -1 means missing.
    Text and EAN values are distinct; numbers and dates are one per distinct source text."""

    codes: np.ndarray
    values: np.ndarray | pd.Index

    def series(self) -> np.ndarray | pd.api.extensions.ExtensionArray:
        """Per-row values."""
        if isinstance(self.values, pd.Index):  # text: str dtype, NaN where missing
            return pd.array(self.values, dtype="str").take(self.codes, allow_fill=True)
        return self.values[self.codes]


@dataclass
class CheckedBlock:
    """One block after validation. `bad` marks refused rows; `rejects` has one entry per
    refused row plus the block's malformed rows, ordered by line."""

    lines: np.ndarray
    bad: np.ndarray
    columns: dict[str, TypedColumn]
    rejects: pd.DataFrame

    def clean_frame(self, contract: FileContract) -> pd.DataFrame:
        """Typed frame of the accepted rows: `_line`, then the contract's columns."""
        good = ~self.bad
        data: dict[str, object] = {LINE: self.lines[good]}
        for name in contract.names:
            column = self.columns[name]
            data[name] = TypedColumn(column.codes[good], column.values).series()
        return pd.DataFrame(data)


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
    verdicts = {code: _judge_ean(code) for code in pd.unique(digits)}
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


@dataclass(frozen=True)
class _Verdict:
    """A column's distinct texts judged once: the typed column and each text's fault ("")."""

    typed: TypedColumn
    reasons: np.ndarray  # object, one per distinct source text


def _distinct_text(values: TextColumn) -> pd.Series:
    return values.values.to_pandas().astype("str")


def _text_codes(cleaned: pd.Series, raw: pd.Series, raw_codes: np.ndarray) -> TypedColumn:
    """Distinct cleaned values (blank = missing) and each row's code into them."""
    blank = cleaned == ""
    if not blank.any() and cleaned.equals(raw):  # the usual case: already distinct and clean
        return TypedColumn(raw_codes, pd.Index(raw, dtype="str"))
    unique_codes, uniques = pd.factorize(cleaned.where(~blank), use_na_sentinel=True)
    return TypedColumn(unique_codes[raw_codes], pd.Index(uniques, dtype="str"))


def _judge(column: Column, text: TextColumn, dialect: FileDialect) -> _Verdict:
    raw = _distinct_text(text)
    stripped = raw.str.strip()
    empty = (stripped == "").to_numpy()
    reasons = np.full(len(raw), "", dtype=object)

    def fault(mask: np.ndarray | pd.Series, reason: str | np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool) & (reasons == "")
        reasons[mask] = reason if isinstance(reason, str) else np.asarray(reason)[mask]

    if column.required:
        fault(empty, "required value missing")
    if column.type is ColumnType.TEXT:
        typed = _text_codes(stripped, raw, text.codes)
    elif column.type is ColumnType.NUMBER:
        numbers = parse_numbers(raw, dialect).to_numpy()
        fault(np.isnan(numbers) & ~empty, "not a number")
        fault(np.isinf(numbers), "not a finite number")
        if not column.allow_negative:
            fault(numbers < 0, "negative value not allowed")
        typed = TypedColumn(text.codes, numbers)
    elif column.type is ColumnType.DATE:
        dates = parse_dates(raw, dialect.date_formats).to_numpy()
        wanted = " or ".join(dialect.date_formats)
        fault(np.isnat(dates) & ~empty, f"not a date in format {wanted}")
        typed = TypedColumn(text.codes, dates)
    elif column.type is ColumnType.EAN:
        normalised, ean_reasons = normalise_eans(raw)
        fault((ean_reasons != "").to_numpy() & ~empty, ean_reasons.to_numpy(dtype=object))
        typed = _text_codes(normalised, raw, text.codes)
    else:  # pragma: no cover - the contract has no other types
        raise ValueError(f"unknown column type {column.type}")
    return _Verdict(typed, reasons)


def check_block(
    block: TextBlock,
    contract: FileContract,
    dialect: FileDialect,
    file: str,
    known_locations: Collection[str] | None = None,
) -> CheckedBlock:
    """Type every column of a block and refuse rows that cannot be sent (no duplicate-key
    check: that needs the whole file, see `drop_duplicate_keys`)."""
    rows = len(block)
    bad = np.zeros(rows, dtype=bool)
    parts = [block.malformed]
    columns: dict[str, TypedColumn] = {}
    for column in contract.columns:
        text = block.columns[column.name]
        verdict = _judge(column, text, dialect)
        columns[column.name] = verdict.typed
        faulty = verdict.reasons != ""
        if not faulty.any():
            continue
        refused = faulty[text.codes] & ~bad
        if refused.any():
            bad |= refused
            codes = text.codes[refused]
            distinct = text.values.to_numpy(zero_copy_only=False)
            parts.append(
                reject_frame(
                    file,
                    block.lines[refused],
                    column.name,
                    distinct[codes],
                    verdict.reasons[codes],
                )
            )
    if known_locations is not None and "location" in contract.names:
        location = columns["location"]
        known = pd.Index(location.values).isin(list(known_locations))
        unknown = np.append(~known, False)[location.codes]  # code -1 (missing) -> False
        refused = unknown & ~bad
        if refused.any():
            bad |= refused
            parts.append(
                reject_frame(
                    file,
                    block.lines[refused],
                    "location",
                    block.columns["location"].texts()[refused],
                    UNKNOWN_LOCATION,
                )
            )
    return CheckedBlock(block.lines, bad, columns, concat_rejects(parts))


def validate_rows(
    frame: pd.DataFrame,
    contract: FileContract,
    dialect: FileDialect,
    file: str,
    known_locations: Collection[str] | None = None,
) -> Validated:
    """Type every column and refuse rows that cannot be sent, with file, line, field and reason.
    `frame` is all text with `_line` (see `read_export_file`)."""
    checked = check_block(
        TextBlock.from_text_frame(frame, contract), contract, dialect, file, known_locations
    )
    clean = checked.clean_frame(contract)
    rejects = checked.rejects
    if not contract.sum_duplicates:
        clean, dup_rejects = drop_duplicate_keys(clean, contract, file)
        rejects = concat_rejects([rejects, dup_rejects])
    return Validated(clean=clean.reset_index(drop=True), rejects=rejects)


def drop_duplicate_keys(
    clean: pd.DataFrame, contract: FileContract, file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row (in frame order) of each key; reject the others, naming the line of
    the first. With a `_file` column (rows of several files), each reject names its own file
    and, when the first row is in another file, that file too."""
    key = list(contract.key)
    dup = clean.duplicated(subset=key, keep="first").to_numpy()
    if not dup.any():
        return clean, empty_rejects()
    groups = clean.groupby(key, sort=False, dropna=False)
    first_line = groups[LINE].transform("first")[dup].astype(str).to_numpy(dtype=object)
    reasons = "duplicate key, first seen on line " + first_line
    files: str | np.ndarray = file
    if FILE in clean.columns:
        files = clean.loc[dup, FILE].to_numpy(dtype=object)
        first_file = groups[FILE].transform("first")[dup].to_numpy(dtype=object)
        elsewhere = first_file != files
        reasons[elsewhere] = reasons[elsewhere] + " of " + first_file[elsewhere]
    key_text = clean.loc[dup, key].astype(str).agg(" + ".join, axis=1)
    rejects = reject_frame(
        "",
        clean.loc[dup, LINE].to_numpy(),
        "+".join(key),
        key_text.to_numpy(dtype=object),
        reasons,
    )
    rejects["file"] = files
    return clean[~dup], rejects
