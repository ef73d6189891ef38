"""Where the ERP exports, the dialect mapping and the staged frames live."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.core.erp.mapping import ErpMapping, load_mapping
from pipelines.core.locations import WorkspaceMapping, load_locations
from pipelines.defs import settings


class ErpExportsResource(dg.ConfigurableResource):
    """The ERP side: where its exports are, its dialect, and its locations' workspaces."""

    # Each empty field is read from its environment variable at run time (ERP_EXPORT_DIR,
    # ERP_MAPPING_FILE, LOCATIONS_FILE, MAX_REJECT_SHARE), so no deployment's value is baked in.
    export_dir: str = ""
    mapping_file: str = ""
    locations_file: str = ""
    max_reject_share: float | None = None

    @property
    def exports(self) -> Path:
        return Path(self.export_dir or settings.ERP_EXPORT_DIR)

    @property
    def reject_share_limit(self) -> float:
        return settings.MAX_REJECT_SHARE if self.max_reject_share is None else self.max_reject_share

    def mapping(self) -> ErpMapping:
        return load_mapping(self.mapping_file or settings.ERP_MAPPING_FILE)

    def locations(self) -> WorkspaceMapping:
        return load_locations(self.locations_file or settings.LOCATIONS_FILE)
