"""ERP location -> Paqtana workspaceCode, from a small TOML file (config, not code)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class LocationsFileError(ValueError):
    pass


@dataclass(frozen=True)
class LocationMap:
    workspaces: dict[str, str] = field(default_factory=dict)
    default_workspace: str | None = None

    def known_locations(self) -> frozenset[str] | None:
        """Locations a row may carry; None when a default workspace makes every location valid."""
        return None if self.default_workspace else frozenset(self.workspaces)

    def workspace_for(self, location: str) -> str | None:
        return self.workspaces.get(location, self.default_workspace)


def load_locations(path: str | Path) -> LocationMap:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocationsFileError(
            f"locations file {path} does not exist (set LOCATIONS_FILE)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise LocationsFileError(f"locations file {path} is not valid TOML: {exc}") from None
    workspaces = doc.get("workspaces", {})
    if not all(isinstance(v, str) and v for v in workspaces.values()):
        raise LocationsFileError(f"{path}: every [workspaces] value must be a workspace code")
    return LocationMap(workspaces=dict(workspaces), default_workspace=doc.get("default_workspace"))
