"""Extraction of clean frames for a business day (items, products) or a date range (demand).

Every row read ends up in exactly one place: the clean frame, the rejects, or (demand only)
superseded by a later source for the same day + location + code. `ExtractResult` carries the
counts that prove it. Files are streamed block by block; demand keeps only the daily totals of
the requested range, so a one-day partition over a 10M-row history holds one day of totals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.core import stage_clock
from pipelines.core.erp import reader
from pipelines.core.erp.contract import CONTRACTS, DEMAND, FileKind
from pipelines.core.erp.demand_totals import DemandTotals, empty_demand_frame, epoch_day
from pipelines.core.erp.drops import complete_drops, history_files, require_drop
from pipelines.core.erp.export_store import ExportStore, as_export_store
from pipelines.core.erp.mapping import ErpMapping, FileDialect
from pipelines.core.erp.reader import LINE, ExportFileError, TextBlock, iter_text_blocks
from pipelines.core.erp.source import ReadableFile
from pipelines.core.erp.validate import FILE, CheckedBlock, FileValidator, drop_duplicate_keys
from pipelines.core.free_memory import release_free_memory
from pipelines.core.packed_sort import smallest_uint
from pipelines.core.rejects import concat_rejects, empty_rejects

# Where a refused row came from, in the staged refused frame (the body builders read these).
SOURCE_FILE, SOURCE_LINE = "source_file", "source_line"
# A history file whose first this-many rows have no readable date is refused as a whole (its
# rejects would otherwise be held until the end of the file to find the file's first day).
MAX_UNDATED_ROWS = 1_000_000
_NO_DAY = np.iinfo(np.int64).min


@dataclass
class ExtractResult:
    clean: pd.DataFrame
    rejects: pd.DataFrame
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    # demand: source rows replaced by a newer source for the same key (daily drop beats history)
    rows_superseded: int = 0
    # demand: source rows that went into the daily totals
    rows_clean_source: int = 0
    # demand: rows of daily drops dated outside the range read (and of history/, apart: it
    # covers past ranges by design); each is reported, never silently dropped
    rows_outside_range: int = 0
    history_rows_outside_range: int = 0
    # snapshots: the refused rows, typed, faulty fields empty, with `source_file`/`source_line`
    refused: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def rows_rejected(self) -> int:
        """Rejected rows (a row with several faulty fields counts once)."""
        if self.rejects.empty:
            return 0
        return int(self.rejects[["file", "line"]].drop_duplicates().shape[0])

    @property
    def reject_share(self) -> float:
        return self.rows_rejected / self.rows_read if self.rows_read else 0.0


def extract_snapshot(
    exports: ExportStore | Path,
    day: dt.date,
    kind: FileKind,
    mapping: ErpMapping,
    known_locations: Collection[str] | None = None,
) -> ExtractResult:
    """Items or products of the complete drop for `day` (a snapshot: one day, one truth)."""
    contract = CONTRACTS[kind]
    drop = require_drop(exports, day)
    dialect = mapping.dialect(kind)
    files = drop.export_files(kind, dialect.split_files)
    if not files:
        raise ExportFileError(
            f"the ERP drop {drop.path} has no {kind.value} file ({kind.value}.csv, "
            f"{kind.value}.csv.gz or {kind.value}.xlsx)"
        )
    cleans, rejects, refused, rows_read = [], [], [], 0
    for path in files:
        file_cleans = []
        validator = FileValidator(contract, dialect, str(path), known_locations)
        for block in iter_text_blocks(path, contract, dialect):
            checked = validator.check(block)
            rows_read += len(block) + len(block.malformed)
            file_cleans.append(checked.clean_frame(contract))
            refused.append(checked.refused_frame(contract).assign(**{FILE: str(path)}))
            rejects.append(checked.rejects)
        validator.finish()
        clean, dups = drop_duplicate_keys(
            pd.concat(file_cleans, ignore_index=True), contract, str(path)
        )
        rejects.append(dups)
        cleans.append(clean.assign(**{FILE: str(path)}))
    clean = pd.concat(cleans, ignore_index=True)
    if len(files) > 1:  # the same key in two files of one drop is a duplicate too
        clean, dups = drop_duplicate_keys(clean, contract, "")
        rejects.append(dups)
    refused_rows = pd.concat(refused, ignore_index=True).rename(
        columns={FILE: SOURCE_FILE, LINE: SOURCE_LINE}
    )
    return ExtractResult(
        clean=clean.drop(columns=[LINE, FILE]).reset_index(drop=True),
        rejects=concat_rejects(rejects),
        files=[str(p) for p in files],
        rows_read=rows_read,
        rows_clean_source=len(clean),
        refused=refused_rows,
    )


def extract_demand(
    exports: ExportStore | Path,
    start: dt.date,
    end: dt.date,
    mapping: ErpMapping,
    known_locations: Collection[str] | None = None,
) -> ExtractResult:
    """Daily demand totals for start..end (inclusive) from history/ and every complete drop.

    Precedence per day + location + code: a daily drop beats history, a newer drop beats an
    older one; within the winning source, order lines are summed into the daily total.
    A row whose date cannot be read belongs to the drop's day, or for a history file to the
    earliest day in that file, so it is reported by exactly one partition. The clean frame
    has `location` and `code` as categoricals.
    """
    dialect = mapping.dialect(FileKind.DEMAND)
    store = as_export_store(exports)
    sources: list[tuple[ReadableFile, int, dt.date | None]] = [
        (p, 0, None) for p in history_files(store)
    ]
    for drop in complete_drops(store):
        drop_files = drop.export_files(FileKind.DEMAND, dialect.split_files)
        sources += [(p, drop.day.toordinal(), drop.day) for p in drop_files]
    totals = DemandTotals(start, end)
    rejects: list[pd.DataFrame] = []
    files, rows_read, outside, history_outside = [], 0, 0, 0
    for path, priority, drop_day in sources:
        demand_file = _DemandFile(path, priority, drop_day, totals, known_locations)
        demand_file.read(dialect)
        if drop_day is None:
            history_outside += demand_file.outside_rows
        else:
            outside += demand_file.outside_rows
        if demand_file.clean_rows or demand_file.rejected_rows:
            files.append(str(path))
            rows_read += demand_file.clean_rows + demand_file.rejected_rows
            rejects += demand_file.rejects
    release_free_memory()  # the parser's pages, before the final frame's columns are made
    with stage_clock.stage("sum per day, final"):
        clean, clean_rows, superseded = totals.frame() if files else (empty_demand_frame(), 0, 0)
    return ExtractResult(
        clean=clean,
        rejects=concat_rejects(rejects) if rejects else empty_rejects(),
        files=files,
        rows_read=rows_read,
        rows_superseded=superseded,
        rows_clean_source=clean_rows,
        rows_outside_range=outside,
        history_rows_outside_range=history_outside,
    )


def _rows(rejects: pd.DataFrame) -> int:
    """Source rows among rejects (a row with several faulty fields counts once)."""
    return int(rejects[["file", "line"]].drop_duplicates().shape[0]) if len(rejects) else 0


class _DemandFile:
    """One demand file streamed into `totals`: in-range clean rows are added, in-range rejects
    kept, undated rejects held until the file's home day is known."""

    def __init__(
        self,
        path: ReadableFile,
        priority: int,
        drop_day: dt.date | None,
        totals: DemandTotals,
        known_locations: Collection[str] | None,
    ) -> None:
        self.path = path
        self.priority = priority
        self.drop_day = drop_day
        self.totals = totals
        self.known_locations = known_locations
        self.first = epoch_day(totals.start)
        self.last = epoch_day(totals.end)
        self.day_dtype = smallest_uint(self.last - self.first + 1)  # days since the start
        self.clean_rows = 0
        self.outside_rows = 0  # dated rows (clean or refused) outside start..end
        self.rejects: list[pd.DataFrame] = []
        self.undated: list[pd.DataFrame] = []
        self.undated_rows = 0
        self.earliest: int | None = None  # first readable day in the file (history's home day)

    @property
    def rejected_rows(self) -> int:
        return sum(len(r) for r in self.rejects)

    def read(self, dialect: FileDialect) -> None:
        validator = FileValidator(DEMAND, dialect, str(self.path), self.known_locations)
        # Half the reader's validation block (16 MB of Arrow bytes, about 650k demand rows with
        # date, location and quantity read encoded): three blocks are live (parsed ahead,
        # queued, being summed). Measured at 10M rows: a quarter brings the peak 20-30 MB down
        # and costs 0.3-1.0 s (each block judges and looks up its ~64k distinct codes).
        blocks = iter_text_blocks(self.path, DEMAND, dialect, reader.BLOCK_BYTES // 2)
        for block in stage_clock.waits("read", blocks):
            with stage_clock.stage("validate"):
                checked = validator.check(block)
            self._add(block, checked)
        validator.finish()
        if self.undated and self.earliest is None:
            self._refuse_undated(whole_file=True)
        if self.undated and self.first <= self.earliest <= self.last:
            self.rejects += self.undated
        self.undated = []

    def _add(self, block: TextBlock, checked: CheckedBlock) -> None:
        date = checked.columns["date"]
        # Worked out per distinct date (a block has few), then taken per row.
        distinct_days = date.values.astype("datetime64[D]").astype(np.int64)
        dated = distinct_days != _NO_DAY
        if dated.any():
            earliest = int(distinct_days[dated].min())
            self.earliest = earliest if self.earliest is None else min(self.earliest, earliest)
        in_range = (distinct_days >= self.first) & (distinct_days <= self.last)
        any_bad = bool(checked.bad.any())
        if in_range.all() and not any_bad:  # the usual block: every row wanted, no pass
            wanted, count = None, len(date.codes)
        else:
            wanted = in_range[date.codes]
            wanted &= ~checked.bad
            count = int(np.count_nonzero(wanted))
        if (dated & ~in_range).any():
            outside = (dated & ~in_range)[date.codes]
            if any_bad:
                outside &= ~checked.bad
            self.outside_rows += int(np.count_nonzero(outside))
        if count:
            location, code, quantity = (
                checked.columns["location"],
                checked.columns["code"],
                checked.columns["quantity"],
            )
            pick = slice(None) if count == len(date.codes) else wanted
            offset = np.where(in_range, distinct_days - self.first, 0).astype(self.day_dtype)
            with stage_clock.stage("sum per day"):
                self.totals.add(
                    self.priority,
                    offset[date.codes[pick]],
                    location.codes[pick],
                    location.values,
                    code.codes[pick],
                    code.values,
                    quantity.values[quantity.codes[pick]],
                )
            self.clean_rows += count
        self._sort_rejects(block, checked.rejects, date.codes, distinct_days)

    def _sort_rejects(
        self,
        block: TextBlock,
        rejects: pd.DataFrame,
        date_codes: np.ndarray,
        distinct_days: np.ndarray,
    ) -> None:
        """Keep rejects dated in range; hold undated ones (malformed rows, unreadable dates)."""
        if rejects.empty:
            return
        lines = rejects["line"].to_numpy()
        at = np.minimum(np.searchsorted(block.lines, lines), max(len(block.lines) - 1, 0))
        is_row = (block.lines[at] == lines) if len(block.lines) else np.zeros(len(lines), bool)
        day = distinct_days[date_codes[at]] if len(date_codes) else _NO_DAY
        reject_day = np.where(is_row, day, _NO_DAY)
        undated = reject_day == _NO_DAY
        in_range = (reject_day >= self.first) & (reject_day <= self.last)
        self.rejects.append(rejects[in_range])
        self.outside_rows += _rows(rejects[~undated & ~in_range])
        if not undated.any():
            return
        if self.drop_day is not None:  # a drop's undated rows belong to the drop's day
            if self.first <= epoch_day(self.drop_day) <= self.last:
                self.rejects.append(rejects[undated])
            return
        self.undated.append(rejects[undated])
        self.undated_rows += int(undated.sum())
        if self.earliest is None and self.undated_rows >= MAX_UNDATED_ROWS:
            self._refuse_undated(whole_file=False)

    def _refuse_undated(self, whole_file: bool) -> None:
        """No row of a history file has a readable date: its rows would belong to no day, so
        no partition would ever report them. The date format is the likely fault."""
        sample = pd.concat(self.undated).iloc[0]
        first = "all" if whole_file else "the first"
        raise ExportFileError(
            f"{self.path}: {first} {self.undated_rows} rows have no readable date (e.g. line "
            f"{sample['line']}: {sample['field']} {sample['value']!r}, {sample['reason']}); "
            f"check `date_format` for demand in the mapping file"
        )
