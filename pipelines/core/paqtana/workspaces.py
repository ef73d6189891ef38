"""Which rows Paqtana can take at all: a location must map to a workspace (config/locations.toml)
and, once the org's own workspaces are known (`GET workspaces`), to one the org really has.
Rows that cannot be sent are refused with the reason, per location."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana.contract import WORKSPACE_FIELD
from pipelines.core.rejects import RejectCollector


@dataclass(frozen=True)
class OrgWorkspaces:
    """The workspace codes an org really has (from `GET /workspaces`), for the pre-flight check."""

    org: str
    codes: frozenset[str]

    @classmethod
    def from_listing(cls, org: str, listing: Iterable[tuple[str, str]]) -> OrgWorkspaces:
        """From `PaqtanaClient.list_workspaces()`: (name, code) pairs."""
        return cls(org, frozenset(code for _name, code in listing))


def _location_workspaces(
    locations: np.ndarray, workspaces: WorkspaceMapping, org_workspaces: OrgWorkspaces | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unique location: its workspaceCode, whether it has none, whether the org lacks it."""
    codes = np.array([workspaces.workspace_for(loc) for loc in locations], dtype=object)
    unmapped = np.array([c is None for c in codes], dtype=bool)
    if org_workspaces is None:
        unknown = np.zeros(len(codes), dtype=bool)
    else:
        unknown = np.array(
            [c is not None and c not in org_workspaces.codes for c in codes], dtype=bool
        )
    return codes, unmapped, unknown


def reject_unsendable_locations(
    collector: RejectCollector,
    loc_codes: np.ndarray,
    locations: np.ndarray,
    workspaces: WorkspaceMapping,
    org_workspaces: OrgWorkspaces | None,
) -> np.ndarray:
    """Reject rows whose location has no workspace or an unknown one; return the workspace code
    per unique location (reasons are built per location, then taken per row)."""
    ws_codes, unmapped, unknown = _location_workspaces(locations, workspaces, org_workspaces)
    if not (unmapped.any() or unknown.any()):  # every location is sendable: no per-row work
        return ws_codes
    present = loc_codes >= 0
    safe = np.where(present, loc_codes, 0)
    no_mapping = np.array(
        [f"location '{loc}' has no {WORKSPACE_FIELD} mapping and no default" for loc in locations],
        dtype=object,
    )
    collector.reject(
        present & unmapped[safe],
        "location",
        lambda rows: locations[loc_codes[rows]],
        lambda rows: no_mapping[loc_codes[rows]],
    )
    if org_workspaces is not None and unknown.any():
        not_in_org = np.array(
            [
                f"{WORKSPACE_FIELD} '{ws}' does not exist in org '{org_workspaces.org}'"
                for ws in ws_codes
            ],
            dtype=object,
        )
        collector.reject(
            present & unknown[safe],
            WORKSPACE_FIELD,
            lambda rows: ws_codes[loc_codes[rows]],
            lambda rows: not_in_org[loc_codes[rows]],
        )
    return ws_codes
