"""The run's say in the cadence rules: `force` (with a reason, for the endpoints it names) and
`older_snapshot` (send an older snapshot over a newer one on purpose). The rules themselves are
the ledger's (`pipelines/core/cadence/ledger.py`); the ledger lives in the state database."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipelines.core.cadence.endpoints import Endpoint
from pipelines.core.cadence.ledger import SyncKind, SyncRequest
from pipelines.core.sync.engine import WaitPolicy
from pipelines.defs.partitions import is_demand_backfill, partition_days, range_label


class CadenceGuardResource(dg.ConfigurableResource):
    force: bool = Field(
        default=False,
        description="Send past the daily budget (and past 'identical payload') for one run. "
        "Needs `reason`. Never sends an older snapshot over a newer one.",
    )
    reason: str = Field(default="", description="Why: recorded in the ledger with the send.")
    endpoints: list[str] = Field(
        default_factory=list,
        description="What `force` or `older_snapshot` applies to (e.g. paqtana_master_inventory, "
        "pixee_products_batch); empty: every endpoint but the PXM read, which must be named.",
    )
    older_snapshot: bool = Field(
        default=False,
        description="Send this run's snapshot even though the vendor holds a newer one "
        "(inventory, catalog). Needs `reason` and names the endpoints in `endpoints`.",
    )
    max_wait_seconds: float = Field(
        default=90.0,
        description="How long a send waits for another live attempt on its endpoint to end.",
    )

    def problems(self) -> list[str]:
        """The config's broken rules, one line each. Checked by every job's executor before any
        step runs (`pipelines/defs/launch_check.py`), not when a step initialises the resource:
        that happens in each step's process, after the extracts and the PXM read. The ledger
        refuses a forced send without a reason too, whoever builds the request."""
        found = []
        if (self.force or self.older_snapshot) and not self.reason.strip():
            what = "force: true" if self.force else "older_snapshot: true"
            found.append(
                f"{what} needs a reason (resources.cadence.config.reason), so the ledger says "
                "why the vendor's limit was overridden"
            )
        if self.older_snapshot and not self.endpoints:
            found.append("older_snapshot: true must name its endpoints in `endpoints`")
        for name in self.endpoints:
            try:
                Endpoint.from_config_name(name)
            except ValueError as exc:
                found.append(str(exc))
        return found

    def applies_to(self, endpoint: Endpoint) -> bool:
        named = {Endpoint.from_config_name(n) for n in self.endpoints}
        if named:
            return endpoint in named
        return not endpoint.forced_only_by_name

    def forces(self, endpoint: Endpoint) -> bool:
        """This run re-sends `endpoint` past the budget and what the vendor already holds."""
        return self.force and self.applies_to(endpoint)

    def kind(self, context: dg.AssetExecutionContext, endpoint: Endpoint) -> SyncKind:
        if self.forces(endpoint):
            return SyncKind.FORCED
        tags = context.run.tags
        if endpoint is Endpoint.PAQTANA_HISTORICAL_DEMAND and is_demand_backfill(context):
            return SyncKind.BACKFILL
        if "dagster/schedule_name" in tags:
            return SyncKind.SCHEDULED
        if "dagster/sensor_name" in tags:
            return SyncKind.SENSOR
        return SyncKind.MANUAL

    def request(
        self,
        context: dg.AssetExecutionContext,
        endpoint: Endpoint,
        *,
        payload_hash: str | None = None,
        data_as_of=None,  # noqa: ANN001 - dt.date | None
    ) -> SyncRequest:
        first, last = partition_days(context)
        kind = self.kind(context, endpoint)
        older = self.older_snapshot and endpoint.snapshot and self.applies_to(endpoint)
        return SyncRequest(
            endpoint=endpoint.value,
            operation=endpoint.operation,
            business_day=last,
            range_label=range_label(first, last),
            kind=kind,
            run_id=context.run.run_id,
            payload_hash=payload_hash,
            force_reason=self.reason if kind is SyncKind.FORCED else None,
            snapshot=endpoint.snapshot,
            data_as_of=data_as_of,
            older_snapshot_reason=self.reason if older else None,
        )

    def wait_policy(self) -> WaitPolicy:
        return WaitPolicy(max_wait_s=self.max_wait_seconds)
