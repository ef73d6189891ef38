"""Our own files, under one data folder: staged frames per day, rejects files, the PXM and Pixee
caches, correction results. One resource says where they all are."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.core.staging import StagingStore
from pipelines.defs import settings


class StagingResource(dg.ConfigurableResource):
    # Empty: ERP_SYNC_DATA_DIR (default `.erp_sync` in the project folder), read at run time.
    data_dir: str = ""

    @property
    def root(self) -> Path:
        return Path(self.data_dir or settings.DATA_DIR)

    def store(self) -> StagingStore:
        return StagingStore(self.root)

    def pxm_cache_path(self) -> Path:
        return self.root / "pxm" / "catalog.sqlite"

    def pixee_cache_path(self) -> Path:
        return self.root / "pixee" / "catalog.parquet"

    def corrections_path(self, run_id: str) -> Path:
        return self.root / "corrections" / f"{run_id}.csv"
