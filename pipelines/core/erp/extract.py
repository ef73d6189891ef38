"""Extraction of clean frames for a business day (items, products) or a date range (demand).

Every row read ends up in exactly one place: the clean frame, the rejects, or (demand only)
superseded by a later source for the same day + location + code. `ExtractResult` carries the
counts that prove it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.core.erp.contract import CONTRACTS, DEMAND, FileKind
from pipelines.core.erp.drops import complete_drops, history_files, kind_files, require_drop
from pipelines.core.erp.mapping import ErpMapping, FileDialect
from pipelines.core.erp.reader import LINE, ExportFileError, read_export_file
from pipelines.core.erp.validate import (
    drop_duplicate_keys,
    empty_rejects,
    parse_dates,
    validate_rows,
)


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
    export_dir: Path,
    day: dt.date,
    kind: FileKind,
    mapping: ErpMapping,
    known_locations: Collection[str] | None = None,
) -> ExtractResult:
    """Items or products of the complete drop for `day` (a snapshot: one day, one truth)."""
    contract = CONTRACTS[kind]
    drop = require_drop(export_dir, day)
    files = kind_files(drop.path, kind)
    if not files:
        raise ExportFileError(
            f"the ERP drop {drop.path} has no {kind.value} file ({kind.value}.csv, "
            f"{kind.value}.csv.gz or {kind.value}.xlsx)"
        )
    dialect = mapping.dialect(kind)
    cleans, rejects, rows_read = [], [], 0
    for path in files:
        raw = read_export_file(path, contract, dialect)
        rows_read += len(raw)
        checked = validate_rows(raw, contract, dialect, str(path), known_locations)
        cleans.append(checked.clean.assign(_file=str(path)))
        rejects.append(checked.rejects)
    clean = pd.concat(cleans, ignore_index=True)
    all_rejects = pd.concat(rejects, ignore_index=True)
    if len(files) > 1:  # the same key in two files of one drop is a duplicate too
        clean, dups = drop_duplicate_keys(clean, contract, "several files")
        all_rejects = pd.concat([all_rejects, dups], ignore_index=True)
    return ExtractResult(
        clean=clean.drop(columns=[LINE, "_file"]).reset_index(drop=True),
        rejects=all_rejects,
        files=[str(p) for p in files],
        rows_read=rows_read,
        rows_clean_source=len(clean),
    )


def extract_demand(
    export_dir: Path,
    start: dt.date,
    end: dt.date,
    mapping: ErpMapping,
    known_locations: Collection[str] | None = None,
) -> ExtractResult:
    """Daily demand totals for start..end (inclusive) from history/ and every complete drop.

    Precedence per day + location + code: a daily drop beats history, a newer drop beats an
    older one; within the winning source, order lines are summed into the daily total.
    A row whose date cannot be read belongs to the drop's day, or for a history file to the
    earliest day in that file, so it is reported by exactly one partition.
    """
    dialect = mapping.dialect(FileKind.DEMAND)
    sources: list[tuple[Path, int, dt.date | None]] = [
        (p, 0, None) for p in history_files(export_dir)
    ]
    for drop in complete_drops(export_dir):
        sources += [
            (p, drop.day.toordinal(), drop.day) for p in kind_files(drop.path, FileKind.DEMAND)
        ]
    cleans, rejects, files, rows_read = [], [], [], 0
    for path, priority, drop_day in sources:
        raw = read_export_file(path, DEMAND, dialect)
        checked = validate_rows(raw, DEMAND, dialect, str(path), known_locations)
        clean = checked.clean
        in_range = clean["date"].dt.date.between(start, end)
        home_day = drop_day or (clean["date"].min().date() if len(clean) else None)
        file_rejects = _rejects_in_range(checked.rejects, raw, start, end, home_day, dialect)
        if not in_range.any() and file_rejects.empty:
            continue
        files.append(str(path))
        rows_read += int(in_range.sum()) + int(
            file_rejects[["file", "line"]].drop_duplicates().shape[0]
        )
        cleans.append(clean.loc[in_range].assign(_priority=priority))
        rejects.append(file_rejects)
    if not cleans:
        empty = pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in [
                    ("date", "datetime64[ns]"),
                    ("location", object),
                    ("code", object),
                    ("quantity", "float64"),
                ]
            }
        )
        return ExtractResult(clean=empty, rejects=empty_rejects(), files=files)
    rows = pd.concat(cleans, ignore_index=True)
    key = list(DEMAND.key)
    winner = rows.groupby(key, sort=False)["_priority"].transform("max")
    kept = rows[rows["_priority"] == winner]
    totals = kept.groupby(key, sort=True, as_index=False)["quantity"].sum()[
        ["date", "location", "code", "quantity"]
    ]
    return ExtractResult(
        clean=totals,
        rejects=pd.concat(rejects, ignore_index=True) if rejects else empty_rejects(),
        files=files,
        rows_read=rows_read,
        rows_superseded=len(rows) - len(kept),
        rows_clean_source=len(kept),
    )


def _rejects_in_range(
    rejects: pd.DataFrame,
    raw: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    home_day: dt.date | None,
    dialect: FileDialect,
) -> pd.DataFrame:
    """The rejects of one demand file that belong to start..end (see extract_demand)."""
    if rejects.empty:
        return rejects
    by_line = raw.set_index(LINE)["date"].astype(str)
    dates = parse_dates(
        by_line.reindex(rejects["line"]).reset_index(drop=True), dialect.date_formats
    )
    days = dates.dt.date
    fallback = home_day is not None and start <= home_day <= end
    belongs = days.between(start, end) | (dates.isna() & fallback)
    return rejects[belongs.to_numpy()].reset_index(drop=True)
