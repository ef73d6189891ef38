"""What each vendor accepted, recorded inside the sandbox's own handlers: a duplicate is a second
*accepted* send of the same row (a retried request the vendor never applied is not one)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from pipelines.core.pixee.payloads import ACCEPTED_STATUSES


class WireLog:
    """Records, inside the sandbox's handlers, every write the vendor accepted and the rows it
    carried; `after(...)` runs an action inside the Nth accepted write, before its answer leaves
    (e.g. arm a slow fault so the next request hangs while a test kills the run)."""

    def __init__(self, sandbox: Any) -> None:
        self.accepted: dict[str, list[list[tuple]]] = {"inventory": [], "demand": [], "pixee": []}
        self._lock = threading.Lock()
        self._triggers: list[tuple[str, int, Callable[[], None]]] = []
        self._wrap(sandbox)

    def after(self, dataset: str, count: int, action: Callable[[], None]) -> None:
        self._triggers.append((dataset, count, action))

    def rows_accepted(self, dataset: str) -> Counter:
        """Row key -> how many accepted requests carried it."""
        with self._lock:
            return Counter(key for request in self.accepted[dataset] for key in request)

    def duplicates(self, dataset: str) -> int:
        return sum(n - 1 for n in self.rows_accepted(dataset).values() if n > 1)

    def _accept(self, dataset: str, keys: list[tuple]) -> None:
        with self._lock:
            self.accepted[dataset].append(keys)
            count = len(self.accepted[dataset])
        for name, at, action in self._triggers:
            if name == dataset and at == count:
                action()

    def _wrap(self, sandbox: Any) -> None:
        paqtana, pixee = sandbox.paqtana, sandbox.pixee
        put_inventory = paqtana.put_master_inventory
        post_demand = paqtana.post_historical_demand
        batch = pixee._batch

        def inventory(authorization: str | None, org: str, body: bytes) -> Any:
            answer = put_inventory(authorization, org, body)
            if answer.status == 200:
                rows = orjson.loads(body)["data"]
                self._accept("inventory", [(r["location"], r["code"]) for r in rows])
            return answer

        def demand(
            authorization: str | None, org: str, body: bytes, query: str, flag: str | None
        ) -> Any:
            answer = post_demand(authorization, org, body, query, flag)
            if answer.status == 200:
                rows = orjson.loads(body)["data"]
                keys = [(r["location"], r["code"], day) for r in rows for day in r["dates"]]
                self._accept("demand", keys)
            return answer

        def products(payload: Any, fault: Any) -> Any:
            answer = batch(payload, fault)
            if answer.status == 200:
                results = answer.body["data"]["results"]
                accepted = [(r["ean"],) for r in results if r["status"] in ACCEPTED_STATUSES]
                self._accept("pixee", accepted)
            return answer

        paqtana.put_master_inventory = inventory
        paqtana.post_historical_demand = demand
        pixee._batch = products
