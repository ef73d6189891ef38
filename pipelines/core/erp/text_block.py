"""What a reader hands the validator: consecutive rows of one file, column by column.

Each column comes dictionary-encoded, so checks run once per distinct value. CSV cells are text
only; spreadsheet cells keep the type they hold (`TextColumn.numbers` / `dates`), so a number
Excel stored is never parsed again through the mapping's notation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.erp.contract import FileContract
from pipelines.core.packed_sort import smallest_int
from pipelines.core.rejects import empty_rejects

LINE = "_line"  # name of the source-line column carried next to the data columns


@dataclass(frozen=True)
class TextColumn:
    """One column of a block, dictionary-encoded: row i holds `values[codes[i]]`.

    Spreadsheet columns also carry, per distinct value, the number a numeric cell held (`numbers`,
    NaN for other cells) and the date of a date cell (`dates`, NaT for others); `values` then
    holds their text, shown in rejects and used by text columns. A typed cell and a text cell
    with the same text are two distinct values."""

    codes: np.ndarray  # one per row, the narrowest signed type (`packed_sort.smallest_int`)
    values: pa.Array  # distinct texts (for a spreadsheet: distinct (type, text) pairs)
    numbers: np.ndarray | None = None  # float64 per distinct value
    dates: np.ndarray | None = None  # datetime64[ns] per distinct value

    @classmethod
    def constant(cls, rows: int, text: str = "") -> TextColumn:
        return cls(np.zeros(rows, dtype=np.int32), pa.array([text], type=pa.string()))

    @property
    def typed(self) -> bool:
        """Whether some values came from typed spreadsheet cells (values may then repeat)."""
        return self.numbers is not None

    def take(self, rows: np.ndarray) -> TextColumn:
        """The same column for a subset of the rows (a mask or positions)."""
        return replace(self, codes=self.codes[rows])

    def texts(self) -> np.ndarray:
        """Per-row text (object array); for small frames and rejects, not the hot path."""
        return self.values.to_numpy(zero_copy_only=False)[self.codes]


@dataclass
class TextBlock:
    """Consecutive data rows of one file as text, blank rows left out.

    `columns` has every contract column (an optional one the file lacks is all ""); `lines`
    is the physical line (a sheet's row) each row starts on; `malformed` holds the rejects of the
    rows in this stretch of the file that could not be read at all (wrong number of fields, an
    Excel error cell).
    """

    columns: dict[str, TextColumn]
    lines: np.ndarray
    malformed: pd.DataFrame = field(default_factory=empty_rejects)

    def __len__(self) -> int:
        return len(self.lines)

    def text_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {name: pd.array(col.texts(), dtype="str") for name, col in self.columns.items()}
        )
        frame[LINE] = self.lines
        return frame

    @classmethod
    def from_text_frame(cls, frame: pd.DataFrame, contract: FileContract) -> TextBlock:
        """A block from an all-text frame with `_line` (what `read_export_file` returns)."""
        columns = {}
        for name in contract.names:
            if name in frame.columns:
                text = pa.array(frame[name].astype(str).to_numpy(dtype=object), type=pa.string())
                columns[name] = encode_text(text)
            else:
                columns[name] = TextColumn.constant(len(frame))
        return cls(columns, frame[LINE].to_numpy(dtype=np.int64))

    @classmethod
    def empty(cls, contract: FileContract, malformed: pd.DataFrame | None = None) -> TextBlock:
        columns = {name: TextColumn.constant(0) for name in contract.names}
        return cls(
            columns,
            np.zeros(0, dtype=np.int64),
            empty_rejects() if malformed is None else malformed,
        )


def encode_text(column: pa.Array | pa.ChunkedArray) -> TextColumn:
    """A text column dictionary-encoded (Arrow's hash, once per value). A column that comes
    encoded already must have one dictionary across its chunks (`Table.unify_dictionaries`)."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        chunks = encoded.chunks
        if not chunks:
            return TextColumn(np.zeros(0, dtype=np.int32), pa.array([], type=pa.string()))
        # Chunks of one encode share one dictionary (the last one holds every value).
        values = chunks[-1].dictionary
        codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
    else:
        values, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    # A block's dates, locations and quantities have a few hundred distinct values at most.
    return TextColumn(codes.astype(smallest_int(len(values)), copy=False), values)


def blank_values(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per value: whether it is empty or whitespace only."""
    trimmed = pc.utf8_trim_whitespace(values)
    return np.asarray(pc.equal(trimmed, "").to_numpy(zero_copy_only=False), dtype=bool)
