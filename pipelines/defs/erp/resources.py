"""Where the ERP exports, the dialect mapping and the staged frames live."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.core.erp.mapping import ErpMapping, load_mapping
from pipelines.core.locations import WorkspaceMapping, load_locations
from pipelines.core.staging import StagingStore
from pipelines.defs import settings


class ErpExportsResource(dg.ConfigurableResource):
    """The ERP side: export folder, dialect mapping, location mapping, and our staging area."""

    export_dir: str = settings.ERP_EXPORT_DIR
    mapping_file: str = settings.ERP_MAPPING_FILE
    locations_file: str = settings.LOCATIONS_FILE
    data_dir: str = settings.DATA_DIR
    max_reject_share: float = settings.MAX_REJECT_SHARE

    @property
    def exports(self) -> Path:
        return Path(self.export_dir)

    def mapping(self) -> ErpMapping:
        return load_mapping(self.mapping_file)

    def locations(self) -> WorkspaceMapping:
        return load_locations(self.locations_file)

    def staging(self) -> StagingStore:
        return StagingStore(Path(self.data_dir))
