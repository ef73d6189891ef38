"""Which planning workspace each ERP location belongs to, read from a small TOML file (config,
not code). The ERP side owns this mapping; Paqtana's payloads only look locations up in it."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class WorkspaceMapping:
    """Which Paqtana workspace each ERP location belongs to; `default` catches the rest. With no
    default, an unmapped location cannot be sent and its rows are rejected."""

    by_location: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def __post_init__(self) -> None:
        bad = [loc for loc, ws in self.by_location.items() if not isinstance(ws, str) or not ws]
        if bad:
            raise ValueError(f"empty workspaceCode for locations {sorted(bad)!r}")
        if self.default is not None and not self.default:
            raise ValueError("default workspaceCode is empty; use None for no default")

    def workspace_for(self, location: str) -> str | None:
        return self.by_location.get(location, self.default)

    def known_locations(self) -> frozenset[str] | None:
        """Locations a row may carry; None when the default makes every location sendable."""
        return None if self.default else frozenset(self.by_location)


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
