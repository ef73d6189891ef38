"""ERP location -> Paqtana workspaceCode, read from a small TOML file (config, not code)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pipelines.core.paqtana.payloads import WorkspaceMapping


class LocationsFileError(ValueError):
    pass


def load_locations(path: str | Path) -> WorkspaceMapping:
    """`[workspaces]` location = code pairs and an optional `default_workspace`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocationsFileError(
            f"locations file {path} does not exist (set LOCATIONS_FILE)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise LocationsFileError(f"locations file {path} is not valid TOML: {exc}") from None
    try:
        return WorkspaceMapping(
            by_location=dict(doc.get("workspaces", {})), default=doc.get("default_workspace")
        )
    except ValueError as exc:
        raise LocationsFileError(f"{path}: {exc}") from None
