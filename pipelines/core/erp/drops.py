"""Where exports are in ERP_EXPORT_DIR: one folder per business day, plus history/.

A daily drop is complete only when its `_SUCCESS` marker exists: the ERP writes it last, so a
folder without it may still be being written and is never read. A drop holds one file per kind
unless the mapping says the ERP splits that export (`split_files`): a second one is most often a
copy, whose rows would count twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.reader import SUFFIXES

SUCCESS_MARKER = "_SUCCESS"
HISTORY_DIR = "history"


class DropNotReadyError(FileNotFoundError):
    """The drop a run needs is missing or incomplete."""


@dataclass(frozen=True)
class Drop:
    day: dt.date
    path: Path

    @property
    def complete(self) -> bool:
        return (self.path / SUCCESS_MARKER).is_file()


def list_drops(export_dir: Path) -> list[Drop]:
    """Every dated folder, complete or not, oldest first; other folder names are ignored."""
    drops = []
    if not export_dir.is_dir():
        return drops
    for child in export_dir.iterdir():
        if not child.is_dir():
            continue
        try:
            day = dt.date.fromisoformat(child.name)
        except ValueError:
            continue
        drops.append(Drop(day, child))
    return sorted(drops, key=lambda d: d.day)


def complete_drops(export_dir: Path) -> list[Drop]:
    return [d for d in list_drops(export_dir) if d.complete]


def newer_complete_drop(export_dir: Path, day: dt.date) -> Drop | None:
    """The newest complete drop after `day`, if the ERP has one: a snapshot of `day` (items,
    products) is then out of date, and the run of that newer day sends it instead."""
    newer = [d for d in complete_drops(export_dir) if d.day > day]
    return newer[-1] if newer else None


def kind_files(folder: Path, kind: FileKind) -> list[Path]:
    """Files of one kind in a folder: `<kind>*.csv|.csv.gz|.xlsx`, in name order."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and p.name.lower().startswith(kind.value)
        and p.name.lower().endswith(SUFFIXES)
    )


def drop_kind_files(folder: Path, kind: FileKind, split_files: bool = False) -> list[Path]:
    """The files of one kind in a daily drop; more than one is an error naming them all
    unless the mapping says the ERP splits the export (`split_files`)."""
    files = kind_files(folder, kind)
    if len(files) > 1 and not split_files:
        names = ", ".join(repr(p.name) for p in files)
        raise ExportFileError(
            f"the ERP drop {folder} has {len(files)} {kind.value} files: {names}; a drop holds "
            f"one {kind.value} file (a copy would be read twice: its rows counted twice); remove "
            f"the extra file, or set `split_files = true` under [{kind.value}] in the mapping "
            f"file if the ERP splits this export into several files"
        )
    return files


def require_drop(export_dir: Path, day: dt.date) -> Drop:
    drop = Drop(day, export_dir / day.isoformat())
    if not drop.path.is_dir():
        raise DropNotReadyError(
            f"no ERP drop for {day}: folder {drop.path} does not exist (ERP_EXPORT_DIR="
            f"{export_dir})"
        )
    if not drop.complete:
        raise DropNotReadyError(
            f"the ERP drop {drop.path} has no {SUCCESS_MARKER} marker: it is incomplete or still "
            f"being written, so it is not read"
        )
    return drop


def history_files(export_dir: Path, kind: FileKind = FileKind.DEMAND) -> list[Path]:
    return kind_files(export_dir / HISTORY_DIR, kind)
