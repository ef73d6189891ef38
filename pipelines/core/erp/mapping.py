"""Per-ERP dialect: how one ERP names its columns and writes its files.

A mapping file (TOML) declares, per file kind, column renames, delimiter, decimal separator,
encoding, date format(s) and, for .xlsx, the sheet. Values under [defaults] apply to every kind.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.core.erp.contract import FileKind


class MappingError(ValueError):
    """The mapping file itself is wrong; the message names the file and the key."""


@dataclass(frozen=True)
class FileDialect:
    rename: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","
    decimal: str = "."
    thousands: str = ""
    encoding: str = "utf-8"
    # Tried in order; the first format that parses a value wins.
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    sheet: str | None = None


@dataclass(frozen=True)
class ErpMapping:
    name: str
    dialects: dict[FileKind, FileDialect]
    source: str = "<built-in>"

    def dialect(self, kind: FileKind) -> FileDialect:
        return self.dialects[kind]


_KNOWN_KEYS = {"rename", "delimiter", "decimal", "thousands", "encoding", "date_format", "sheet"}


def _dialect_from(table: dict, base: FileDialect, where: str) -> FileDialect:
    unknown = set(table) - _KNOWN_KEYS
    if unknown:
        raise MappingError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KNOWN_KEYS)}"
        )
    date_formats = table.get("date_format", base.date_formats)
    if isinstance(date_formats, str):
        date_formats = (date_formats,)
    rename = {**base.rename, **table.get("rename", {})}
    delimiter = table.get("delimiter", base.delimiter)
    if len(delimiter) != 1:
        raise MappingError(f"{where}: delimiter must be one character, got {delimiter!r}")
    return FileDialect(
        rename=rename,
        delimiter=delimiter,
        decimal=table.get("decimal", base.decimal),
        thousands=table.get("thousands", base.thousands),
        encoding=table.get("encoding", base.encoding),
        date_formats=tuple(date_formats),
        sheet=table.get("sheet", base.sheet),
    )


def load_mapping(path: str | Path) -> ErpMapping:
    """Read a mapping TOML; unknown kinds or keys are errors, so a typo cannot pass silently."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist (set ERP_MAPPING_FILE)") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping file {path} is not valid TOML: {exc}") from None
    allowed = {"name", "defaults"} | {k.value for k in FileKind}
    unknown = set(doc) - allowed
    if unknown:
        raise MappingError(
            f"{path}: unknown section(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    base = _dialect_from(doc.get("defaults", {}), FileDialect(), f"{path} [defaults]")
    dialects = {
        kind: _dialect_from(doc.get(kind.value, {}), base, f"{path} [{kind.value}]")
        for kind in FileKind
    }
    return ErpMapping(name=doc.get("name", path.stem), dialects=dialects, source=str(path))
