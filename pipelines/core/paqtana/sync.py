"""Paqtana's two sends through the sync engine: the one inventory PUT and the demand chunks
(auto_calculate rides on the send's last request). What differs from the other vendors is here:
how a unit goes out, and which rows a refused request carried."""

from __future__ import annotations

import orjson

from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.core.paqtana.demand import DemandChunks
from pipelines.core.paqtana.inventory import MasterInventory
from pipelines.core.sync.units import SendPlan, Unit, UnitAnswer, sha256_of

# The rejects file's `field` for a refused request's rows.
DEMAND_KEY_FIELD = "date+location+code"
INVENTORY_KEY_FIELD = "location+code"


def inventory_plan(inventory: MasterInventory) -> SendPlan:
    unit = Unit(inventory.sha256, inventory.body, inventory.rows, "master inventory PUT")
    return SendPlan([unit], payload_hash=inventory.sha256)


def demand_plan(built: DemandChunks, nothing_to_send: str) -> SendPlan:
    n = len(built.chunks)
    units = [
        Unit(c.sha256, c.body, c.values, f"demand chunk {i + 1}/{n} ({c.size_bytes:,} bytes)")
        for i, c in enumerate(built.chunks)
    ]
    return SendPlan(
        units,
        payload_hash=sha256_of(c.sha256 for c in built.chunks) if units else None,
        nothing_to_send=nothing_to_send,
    )


class InventorySender:
    def __init__(self, client: PaqtanaClient) -> None:
        self.client = client
        self.stats = client.stats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        self.client.put_master_inventory(unit.payload)
        return UnitAnswer()

    def refused_items(self, unit: Unit) -> list[str]:
        return [
            f"{o.get('location')} + {o.get('code')}" for o in orjson.loads(unit.payload)["data"]
        ]


class DemandSender:
    def __init__(self, client: PaqtanaClient) -> None:
        self.client = client
        self.stats = client.stats

    def send(self, unit: Unit, *, finishing: bool) -> UnitAnswer:
        self.client.post_historical_demand(unit.payload, auto_calculate=finishing)
        return UnitAnswer()

    def refused_items(self, unit: Unit) -> list[str]:
        return [
            f"{day} + {o.get('location')} + {o.get('code')}"
            for o in orjson.loads(unit.payload)["data"]
            for day in o["dates"]
        ]
