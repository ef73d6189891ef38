"""Numbers read strictly in the notation the mapping declares, and what a refused one looks like.

A number is an optional sign, digits, at most one decimal separator followed by digits, and an
optional exponent. The thousands separator may only split the digits before the decimal
separator into groups of exactly three (spaces, also no-break ones, may group digits the same
way in any notation). Anything else is refused. When the text is a number in another reading
(the other decimal notation, or the declared one with the thousands separator the mapping leaves
out), the reason says which, so "1,234.50" under decimal="," is never 1.2345 and "0.35" never 35.

A file's column as a whole (`ColumnNotation`) is refused when its values contradict the mapping:
a value that is a number only in the other notation next to values that the two notations read
differently ("12.000" is 12000 or 12: which one the ERP meant, the column's other values say),
or such values in NOTATION_CONFLICT_SHARE of the column's values or more.

All checks run on a block's distinct values with Arrow's regex kernels, never per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Share of a column's filled text values that, when they are numbers only in another reading,
# refuse the column as a whole: above the default MAX_REJECT_SHARE (5 %) the rows would block
# the load anyway, and one message naming the notation helps more than thousands of rejects.
NOTATION_CONFLICT_SHARE = 0.05

_NAMES = {".": "point-decimal notation (1,234.50)", ",": "comma-decimal notation (1.234,50)"}
_OTHER_DECIMAL = {".": ",", ",": "."}
_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space
_WORDS = r"^[+-]?(?i:inf|infinity|nan)$"  # read as numbers, then refused as not finite / NaN


def _in_class(chars: str) -> str:
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)


@dataclass(frozen=True)
class Notation:
    """A decimal separator and a thousands separator ("" = none; spaces always group)."""

    decimal: str
    thousands: str = ""

    @property
    def name(self) -> str:
        return _NAMES.get(self.decimal, f"decimal={self.decimal!r} notation")

    @property
    def pattern(self) -> str:
        groups = _in_class(self.thousands + _SPACES)
        decimal = "\\" + self.decimal if not self.decimal.isalnum() else self.decimal
        integer = rf"(?:\d{{1,3}}(?:[{groups}]\d{{3}})+|\d+)"
        fraction = rf"{decimal}\d+"
        return rf"^[+-]?(?:{integer}(?:{fraction})?|{fraction})(?:[eE][+-]?\d+)?$"

    def parse(self, trimmed: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(whether each text is a number in this notation, its value or NaN)."""
        valid = pc.or_(
            pc.match_substring_regex(trimmed, self.pattern),
            pc.match_substring_regex(trimmed, _WORDS),
        )
        valid = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
        values = np.full(len(trimmed), np.nan)
        if valid.any():
            picked = trimmed.filter(pa.array(valid))
            plain = pc.replace_substring_regex(
                picked, f"[{_in_class(self.thousands + _SPACES)}]", ""
            )
            if self.decimal != ".":
                plain = pc.replace_substring(plain, self.decimal, ".")
            values[valid] = pc.cast(plain, pa.float64()).to_numpy(zero_copy_only=False)
        return valid, values

    def other(self) -> Notation | None:
        """The other common decimal notation, with its usual thousands separator."""
        if self.decimal not in _OTHER_DECIMAL:
            return None
        other = _OTHER_DECIMAL[self.decimal]
        return Notation(other, _OTHER_DECIMAL[other])

    def with_thousands(self) -> Notation | None:
        """This notation with its usual thousands separator, when the mapping sets none."""
        if self.thousands or self.decimal not in _OTHER_DECIMAL:
            return None
        return Notation(self.decimal, _OTHER_DECIMAL[self.decimal])


@dataclass
class NumberReading:
    """Distinct texts of a number column read in the mapping's notation."""

    values: np.ndarray  # float64: the number, NaN where empty or refused
    reasons: np.ndarray  # object: why a text that is a number in another reading is refused
    other: np.ndarray  # bool: a number in the other decimal notation, not in the mapping's
    hinted: np.ndarray  # bool: a number in some other reading only (`reasons` is set)
    ambiguous: np.ndarray  # bool: a number the other decimal notation reads as another number
    other_values: np.ndarray  # float64: the other notation's reading (NaN where none)

    def drop(self, mask: np.ndarray) -> None:
        """Forget what `mask`'s values say (typed spreadsheet cells: no text, no notation)."""
        self.reasons[mask] = ""
        self.other[mask] = self.hinted[mask] = self.ambiguous[mask] = False


def read_numbers(trimmed: pa.Array, notation: Notation) -> NumberReading:
    """Read trimmed distinct texts strictly (see module docstring)."""
    valid, values = notation.parse(trimmed)
    n = len(trimmed)
    reasons = np.full(n, "", dtype=object)
    none = np.zeros(n, dtype=bool)
    other_notation, grouped = notation.other(), notation.with_thousands()
    other_valid, other_values = (
        other_notation.parse(trimmed) if other_notation else (none, np.full(n, np.nan))
    )
    grouped_valid = grouped.parse(trimmed)[0] if grouped else none
    refused = ~valid & np.asarray(pc.not_equal(trimmed, "").to_numpy(zero_copy_only=False), bool)
    other = refused & other_valid
    hinted = refused & (other_valid | grouped_valid)
    if hinted.any():
        quoted = "'" + trimmed.to_numpy(zero_copy_only=False).astype(object) + "'"
        says = f"the mapping says decimal={notation.decimal!r}"
        if other_notation is not None:
            only_other = other & ~grouped_valid
            reasons[only_other] = (
                quoted[only_other] + f" looks like {other_notation.name} but {says}"
            )
        if grouped is not None:
            sep = grouped.thousands
            only_grouped = refused & grouped_valid & ~other_valid
            reasons[only_grouped] = (
                quoted[only_grouped] + f" uses {sep!r} as a thousands separator but the mapping "
                f"sets no `thousands` (decimal={notation.decimal!r})"
            )
            both = refused & grouped_valid & other_valid
            if other_notation is not None:
                reasons[both] = (
                    quoted[both] + f" is either grouped with {sep!r} as thousands separator, "
                    f"which the mapping does not set, or {other_notation.name}; {says}"
                )
    with np.errstate(invalid="ignore"):
        ambiguous = valid & other_valid & np.isfinite(values) & (values != other_values)
    return NumberReading(values, reasons, other, hinted, ambiguous, other_values)


@dataclass
class ColumnNotation:
    """What one file's text values in one number column say about the mapping's notation,
    gathered block by block (see module docstring)."""

    column: str
    notation: Notation
    filled: int = 0  # rows with a non-empty text value
    hinted_rows: int = 0  # rows whose value is a number only in another reading
    hint: tuple[int, str] | None = None  # (line, reason) of the first such row
    other: tuple[int, str] | None = None  # the first row only the other notation reads
    ambiguous: tuple[int, str, float, float] | None = None  # (line, text, ours, theirs)

    def add(
        self,
        reading: NumberReading,
        texts: pa.Array,
        filled: np.ndarray,
        codes: np.ndarray,
        lines: np.ndarray,
    ) -> None:
        """One block: `filled` marks the distinct values that are non-empty text."""
        self.filled += len(codes) if filled.all() else int(np.count_nonzero(filled[codes]))
        if reading.hinted.any():
            rows = reading.hinted[codes]
            self.hinted_rows += int(np.count_nonzero(rows))
            if self.hint is None:
                row = int(np.flatnonzero(rows)[0])
                self.hint = (int(lines[row]), str(reading.reasons[codes[row]]))
        if self.other is None and reading.other.any():
            row = int(np.flatnonzero(reading.other[codes])[0])
            self.other = (int(lines[row]), str(reading.reasons[codes[row]]))
        if self.ambiguous is None and reading.ambiguous.any():
            row = int(np.flatnonzero(reading.ambiguous[codes])[0])
            code = codes[row]
            self.ambiguous = (
                int(lines[row]),
                str(texts[code].as_py()).strip(),
                float(reading.values[code]),
                float(reading.other_values[code]),
            )

    def contradiction(self, final: bool) -> str | None:
        """Why the column is refused as a whole, or None. Before the end of the file
        (`final` False) only the other-notation-next-to-ambiguous rule can be decided."""
        if self.other is not None and self.ambiguous is not None:
            line, text, ours, theirs = self.ambiguous
            other = self.notation.other()
            assert other is not None
            return (
                f"line {self.other[0]}: {self.other[1]}, while values such as line {line} "
                f"{text!r} read differently in the two notations ({ours:g} with the mapping, "
                f"{theirs:g} in {other.name}), so no value of the column can be trusted"
            )
        if (
            final
            and self.hint is not None
            and self.hinted_rows >= (NOTATION_CONFLICT_SHARE * self.filled)
        ):
            thousands = (
                f"thousands={self.notation.thousands!r}"
                if self.notation.thousands
                else "no thousands separator"
            )
            return (
                f"{self.hinted_rows} of {self.filled} values "
                f"({self.hinted_rows / self.filled:.0%}) are numbers only in another notation "
                f"than the mapping's (decimal={self.notation.decimal!r}, {thousands}), e.g. "
                f"line {self.hint[0]}: {self.hint[1]}"
            )
        return None
