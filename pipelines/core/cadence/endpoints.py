"""The external calls the ledger budgets, by name, with what the budget rules need to know about
each: read or write, whether it carries a full snapshot (an older one must never replace a newer
one), and the name a person uses for it in run config (`force.endpoints`)."""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    WRITE = "write"
    READ = "read"


class Endpoint(StrEnum):
    """The value is the ledger's name of the endpoint (kept stable: the ledger holds years)."""

    PAQTANA_MASTER_INVENTORY = "paqtana PUT master_inventory"
    PAQTANA_HISTORICAL_DEMAND = "paqtana POST historical_demand"
    PIXEE_PRODUCTS_BATCH = "pixee POST products/batch"
    PIXEE_DELTA_READ = "pixee GET products/delta"
    PXM_CATALOG_READ = "pxm GET catalog"

    @property
    def operation(self) -> Operation:
        return Operation.READ if self in _READS else Operation.WRITE

    @property
    def snapshot(self) -> bool:
        """A send that replaces what the vendor holds with one drop's state (inventory, catalog)."""
        return self in _SNAPSHOTS

    @property
    def config_name(self) -> str:
        """How run config names it: `paqtana_master_inventory`, `pxm_catalog_read`, ..."""
        return self.name.lower()

    @property
    def forced_only_by_name(self) -> bool:
        """PXM's one-read-a-day rule is lifted only when `force.endpoints` names it."""
        return self is Endpoint.PXM_CATALOG_READ

    @classmethod
    def from_config_name(cls, name: str) -> Endpoint:
        for endpoint in cls:
            if name in (endpoint.config_name, endpoint.value):
                return endpoint
        known = ", ".join(e.config_name for e in cls)
        raise ValueError(f"unknown endpoint {name!r}; known: {known}")


_READS = frozenset({Endpoint.PIXEE_DELTA_READ, Endpoint.PXM_CATALOG_READ})
_SNAPSHOTS = frozenset({Endpoint.PAQTANA_MASTER_INVENTORY, Endpoint.PIXEE_PRODUCTS_BATCH})

PAQTANA_MASTER_INVENTORY = Endpoint.PAQTANA_MASTER_INVENTORY
PAQTANA_HISTORICAL_DEMAND = Endpoint.PAQTANA_HISTORICAL_DEMAND
PIXEE_PRODUCTS_BATCH = Endpoint.PIXEE_PRODUCTS_BATCH
PIXEE_DELTA_READ = Endpoint.PIXEE_DELTA_READ
PXM_CATALOG_READ = Endpoint.PXM_CATALOG_READ

# The writes a day's sync makes; a drop is synced when each of them holds its data.
DAILY_WRITES = (PAQTANA_MASTER_INVENTORY, PAQTANA_HISTORICAL_DEMAND, PIXEE_PRODUCTS_BATCH)
