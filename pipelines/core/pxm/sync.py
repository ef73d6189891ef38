"""The daily PXM read through the sync engine: one unit, the paged read of the catalog, taken as
done only once it is written to the local cache every consumer reads."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.pxm.cache import write_catalog_cache
from pipelines.core.pxm.client import PxmClient
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer

READ_UNIT = Unit(key="pxm catalog read", payload=None, items=0, label="PXM catalog read")


def catalog_read_plan() -> SendPlan:
    return SendPlan([READ_UNIT])


class CatalogReadSender:
    def __init__(self, client: PxmClient, cache_path: Path) -> None:
        self.client = client
        self.cache_path = cache_path
        self.stats = client.stats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        read = self.client.read_catalog()
        write_catalog_cache(read, self.cache_path)
        return UnitAnswer(counts={"collections": len(read.collections)}, value=read)

    def refused_items(self, unit: Unit) -> list[str]:
        return []
