"""Where exports are in ERP_EXPORT_DIR: one folder per business day, plus history/.

A daily drop is complete only when its `_SUCCESS` marker exists: the ERP writes it last, so a
folder without it may still be being written and is never read. A drop holds one file per kind
unless the mapping says the ERP splits that export (`split_files`): a second one is most often a
copy, whose rows would count twice. The folders are listed and read through the export store (a
local folder, SFTP or S3), never changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.errors import ExportFileError
from pipelines.core.erp.export_store import (
    HISTORY_DIR,
    SUCCESS_MARKER,
    ExportFile,
    ExportStore,
    as_export_store,
)

__all__ = [
    "HISTORY_DIR",
    "SUCCESS_MARKER",
    "Drop",
    "DropNotReadyError",
    "complete_drops",
    "history_files",
    "list_drops",
    "newer_complete_drop",
    "require_drop",
]


class DropNotReadyError(FileNotFoundError):
    """The drop a run needs is missing or incomplete."""


@dataclass
class Drop:
    """One dated folder; its marker is looked up once, when first asked."""

    day: dt.date
    folder: str  # in the store's filesystem
    store: ExportStore = field(repr=False, compare=False)

    @property
    def path(self) -> str:
        """The folder as a person reads it (a local path, or the URL without credentials)."""
        return self.store.shown(self.folder)

    @cached_property
    def marker_mtime(self) -> float | None:
        """When `_SUCCESS` was written (Unix seconds); None while it does not exist."""
        return self.store.success_marker_mtime(self.folder)

    @property
    def complete(self) -> bool:
        return self.marker_mtime is not None

    def files(self, kind: FileKind) -> list[ExportFile]:
        """The drop's files of one kind: `<kind>*.csv|.csv.gz|.xlsx`, in name order."""
        return self.store.kind_files(self.folder, kind)

    def export_files(self, kind: FileKind, split_files: bool = False) -> list[ExportFile]:
        """The files of one kind that make up the drop's export; more than one is an error
        naming them all unless the mapping says the ERP splits the export (`split_files`)."""
        files = self.files(kind)
        if len(files) > 1 and not split_files:
            names = ", ".join(repr(f.name) for f in files)
            raise ExportFileError(
                f"the ERP drop {self.path} has {len(files)} {kind.value} files: {names}; a drop "
                f"holds one {kind.value} file (a copy would be read twice: its rows counted "
                f"twice); remove the extra file, or set `split_files = true` under "
                f"[{kind.value}] in the mapping file if the ERP splits this export into several "
                f"files"
            )
        return files


def list_drops(location: ExportStore | Path) -> list[Drop]:
    """Every dated folder, complete or not, oldest first, from one listing; other folder names
    are ignored."""
    store = as_export_store(location)
    return [Drop(day, folder, store) for day, folder in store.dated_folders()]


def complete_drops(location: ExportStore | Path) -> list[Drop]:
    return [d for d in list_drops(location) if d.complete]


def newer_complete_drop(location: ExportStore | Path, day: dt.date) -> Drop | None:
    """The newest complete drop after `day`, if the ERP has one: a snapshot of `day` (items,
    products) is then out of date, and the run of that newer day sends it instead."""
    newer = [d for d in complete_drops(location) if d.day > day]
    return newer[-1] if newer else None


def require_drop(location: ExportStore | Path, day: dt.date) -> Drop:
    store = as_export_store(location)
    drop = Drop(day, store.folder(day.isoformat()), store)
    if drop.complete:
        return drop
    if not store.is_folder(drop.folder):
        raise DropNotReadyError(
            f"no ERP drop for {day}: folder {drop.path} does not exist (ERP_EXPORT_DIR="
            f"{store.location})"
        )
    raise DropNotReadyError(
        f"the ERP drop {drop.path} has no {SUCCESS_MARKER} marker: it is incomplete or still "
        f"being written, so it is not read"
    )


def history_files(
    location: ExportStore | Path, kind: FileKind = FileKind.DEMAND
) -> list[ExportFile]:
    return as_export_store(location).history_files(kind)
