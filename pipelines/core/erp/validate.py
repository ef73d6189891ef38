"""Row-level validation: typed columns out of text, and a reason for every row that is refused.

Works on dictionary-encoded blocks: every check runs once per distinct value of a column (a
demand file of 10M rows has a few hundred distinct dates and quantities), then one array take
spreads the verdict over the rows. A row gets one reject entry: its first fault in contract
column order. Numbers are read strictly in the mapping's notation (`notation`); what a number
column says about that notation over the whole file is judged by `FileValidator`, which refuses
the file when the column contradicts the mapping. Typed spreadsheet cells are used as they are.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from stdnum import ean as stdnum_ean

from pipelines.core.erp.contract import Column, ColumnType, FileContract
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.notation import ColumnNotation, Notation, NumberReading, read_numbers
from pipelines.core.erp.text_block import LINE, TextBlock, TextColumn
from pipelines.core.erp.workbook import EXCEL_ERRORS
from pipelines.core.rejects import concat_rejects, empty_rejects, reject_frame

__all__ = [
    "CheckedBlock",
    "FileValidator",
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
# Control characters (C0, DEL, C1) have no place in a key: a key holding one is another item.
_CONTROL = "[\\x00-\\x1f\\x7f-\\x9f]"


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
        return self._frame(contract, ~self.bad)

    def refused_frame(self, contract: FileContract) -> pd.DataFrame:
        """Typed frame of the refused rows, their faulty fields empty: what a snapshot load
        needs to keep an item the vendor already holds (its good fields are today's)."""
        return self._frame(contract, self.bad)

    def _frame(self, contract: FileContract, rows: np.ndarray) -> pd.DataFrame:
        data: dict[str, object] = {LINE: self.lines[rows]}
        for name in contract.names:
            column = self.columns[name]
            data[name] = TypedColumn(column.codes[rows], column.values).series()
        return pd.DataFrame(data)


def parse_numbers(text: pd.Series, dialect: FileDialect) -> pd.Series:
    """Text -> float64 (NaN where empty or not a number in the dialect's notation, read
    strictly: see `notation`)."""
    trimmed = pc.utf8_trim_whitespace(pa.array(text.astype(str).to_numpy(dtype=object)))
    reading = read_numbers(trimmed, Notation(dialect.decimal, dialect.thousands))
    return pd.Series(reading.values, index=text.index, dtype="float64")


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
    """A column's distinct texts judged once: the typed column and each text's fault (""),
    and for a number column how its texts read in the mapping's notation."""

    typed: TypedColumn
    reasons: np.ndarray  # object, one per distinct source text
    numbers: NumberReading | None = None
    text_filled: np.ndarray | None = None  # bool: non-empty text values (not typed cells)


def _distinct_text(values: TextColumn) -> pd.Series:
    return values.values.to_pandas().astype("str")


def _text_codes(cleaned: pd.Series, raw: pd.Series, text: TextColumn) -> TypedColumn:
    """Distinct cleaned values (blank = missing) and each row's code into them."""
    blank = cleaned == ""
    if not text.typed and not blank.any() and cleaned.equals(raw):  # the usual case
        return TypedColumn(text.codes, pd.Index(raw, dtype="str"))
    # Typed cells may repeat a text ("12345" the number and the text): factorize merges them.
    unique_codes, uniques = pd.factorize(cleaned.where(~blank), use_na_sentinel=True)
    return TypedColumn(unique_codes[text.codes], pd.Index(uniques, dtype="str"))


def _bools(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _control_reasons(trimmed: pa.Array, is_key: bool) -> np.ndarray | None:
    """Per distinct value, why a control character refuses it (NUL in any field, any control
    character in a key field), or None when no value has one (the usual case)."""
    if pc.all(pc.or_(pc.ascii_is_printable(trimmed), pc.equal(trimmed, ""))).as_py() is not False:
        return None  # printable ASCII only (the usual case): about 15 times cheaper than the regex
    has = _bools(pc.match_substring_regex(trimmed, _CONTROL if is_key else "\\x00"))
    if not has.any():
        return None
    reasons = np.full(len(trimmed), "", dtype=object)
    damaged = "the export is damaged here, or read with the wrong `encoding`"
    if is_key:
        damaged += "; as a key it would name another item"
    for i in np.flatnonzero(has):  # bad distinct values only: a handful
        text = trimmed[int(i)].as_py()
        char = "\x00" if "\x00" in text else next(c for c in text if _is_control(c))
        what = "a NUL byte" if char == "\x00" else f"control character U+{ord(char):04X}"
        reasons[i] = f"{what} in the value ({text!r}); {damaged}"
    return reasons


def _is_control(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F


def _judge(column: Column, text: TextColumn, dialect: FileDialect, is_key: bool) -> _Verdict:
    raw = _distinct_text(text)
    stripped = raw.str.strip()
    empty = (stripped == "").to_numpy()
    reasons = np.full(len(raw), "", dtype=object)
    trimmed = pc.utf8_trim_whitespace(text.values)
    typed_number = ~np.isnan(text.numbers) if text.numbers is not None else None
    typed_date = ~np.isnat(text.dates) if text.dates is not None else None

    def fault(mask: np.ndarray | pd.Series, reason: str | np.ndarray) -> None:
        mask = np.asarray(mask, dtype=bool) & (reasons == "")
        reasons[mask] = reason if isinstance(reason, str) else np.asarray(reason)[mask]

    if column.required:
        fault(empty, "required value missing")
    controls = _control_reasons(trimmed, is_key)
    if controls is not None:
        fault(controls != "", controls)
    excel_error = _bools(pc.is_in(trimmed, value_set=pa.array(sorted(EXCEL_ERRORS))))
    if excel_error.any():
        fault(
            excel_error,
            "an Excel error value: a formula failed where the export was made; correct it in "
            "the source and export again",
        )
    reading = filled = None
    if column.type is ColumnType.TEXT:
        typed = _text_codes(stripped, raw, text)
    elif column.type is ColumnType.NUMBER:
        reading = read_numbers(trimmed, Notation(dialect.decimal, dialect.thousands))
        numbers = reading.values
        filled = ~empty
        if typed_number is not None and typed_date is not None:
            numbers = np.where(typed_number, text.numbers, numbers)
            reading.drop(typed_number | typed_date)
            filled = filled & ~typed_number & ~typed_date
            fault(typed_date, "a date cell, not a number")
        fault(reading.reasons != "", reading.reasons)
        fault(np.isnan(numbers) & ~empty, "not a number")
        fault(np.isinf(numbers), "not a finite number")
        if not column.allow_negative:
            fault(numbers < 0, "negative value not allowed")
        typed = TypedColumn(text.codes, numbers)
    elif column.type is ColumnType.DATE:
        dates = parse_dates(raw, dialect.date_formats).to_numpy()
        wanted = " or ".join(dialect.date_formats)
        if typed_date is not None and text.dates is not None:
            dates = np.where(typed_date, text.dates, dates)
            with_time = typed_date & (text.dates != text.dates.astype("datetime64[D]"))
            fault(
                with_time,
                "a date cell with a time of day; the contract wants a day: export the date only",
            )
        fault(np.isnat(dates) & ~empty, f"not a date in format {wanted}")
        typed = TypedColumn(text.codes, dates)
    elif column.type is ColumnType.EAN:
        normalised, ean_reasons = normalise_eans(raw)
        fault((ean_reasons != "").to_numpy() & ~empty, ean_reasons.to_numpy(dtype=object))
        typed = _text_codes(normalised, raw, text)
    else:  # pragma: no cover - the contract has no other types
        raise ValueError(f"unknown column type {column.type}")
    return _Verdict(typed, reasons, reading, filled)


class FileValidator:
    """Validates the blocks of one file in order. Holds what is judged over the whole file: a
    number column whose values contradict the mapping's notation refuses the file (see
    `notation`), as soon as that is certain or, for the share rule, at `finish`."""

    def __init__(
        self,
        contract: FileContract,
        dialect: FileDialect,
        file: str,
        known_locations: Collection[str] | None = None,
    ) -> None:
        self.contract = contract
        self.dialect = dialect
        self.file = file
        self.known_locations = known_locations
        notation = Notation(dialect.decimal, dialect.thousands)
        self.notations = {
            c.name: ColumnNotation(c.name, notation)
            for c in contract.columns
            if c.type is ColumnType.NUMBER
        }

    def check(self, block: TextBlock) -> CheckedBlock:
        """Type every column of a block and refuse rows that cannot be sent (no duplicate-key
        check: that needs the whole file, see `drop_duplicate_keys`)."""
        rows = len(block)
        bad = np.zeros(rows, dtype=bool)
        parts = [block.malformed]
        columns: dict[str, TypedColumn] = {}
        for column in self.contract.columns:
            text = block.columns[column.name]
            verdict = _judge(column, text, self.dialect, column.name in self.contract.key)
            columns[column.name] = verdict.typed
            if verdict.numbers is not None and verdict.text_filled is not None:
                notation = self.notations[column.name]
                notation.add(
                    verdict.numbers, text.values, verdict.text_filled, text.codes, block.lines
                )
                self._refuse(column.name, notation.contradiction(final=False))
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
                        self.file,
                        block.lines[refused],
                        column.name,
                        distinct[codes],
                        verdict.reasons[codes],
                    )
                )
        if self.known_locations is not None and "location" in self.contract.names:
            location = columns["location"]
            known = pd.Index(location.values).isin(list(self.known_locations))
            unknown = np.append(~known, False)[location.codes]  # code -1 (missing) -> False
            refused = unknown & ~bad
            if refused.any():
                bad |= refused
                parts.append(
                    reject_frame(
                        self.file,
                        block.lines[refused],
                        "location",
                        block.columns["location"].texts()[refused],
                        UNKNOWN_LOCATION,
                    )
                )
        return CheckedBlock(block.lines, bad, columns, concat_rejects(parts))

    def finish(self) -> None:
        """After the file's last block: refuse it when a number column contradicts the
        mapping's notation over the whole file."""
        for name, notation in self.notations.items():
            self._refuse(name, notation.contradiction(final=True))

    def _refuse(self, name: str, why: str | None) -> None:
        if why is None:
            return
        kind = self.contract.kind.value
        raise ExportFileError(
            f"{self.file}: column {name!r} is refused as a whole: {why}; set `decimal` and "
            f"`thousands` for {kind} in the mapping file to the notation the ERP writes, or "
            f"correct the export"
        )


def check_block(
    block: TextBlock,
    contract: FileContract,
    dialect: FileDialect,
    file: str,
    known_locations: Collection[str] | None = None,
) -> CheckedBlock:
    """One block judged on its own (a whole small file): `FileValidator` for a stream."""
    validator = FileValidator(contract, dialect, file, known_locations)
    checked = validator.check(block)
    validator.finish()
    return checked


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
