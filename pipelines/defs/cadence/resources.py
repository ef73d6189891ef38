"""The cadence guard as a Dagster resource: the ledger lives in the instance's own database."""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipelines.core.cadence.ledger import (
    CadenceLedger,
    Decision,
    Operation,
    Outcome,
    SyncKind,
    SyncRequest,
)
from pipelines.core.http import CallStats
from pipelines.core.state_db import make_engine
from pipelines.defs import settings
from pipelines.defs.partitions import partition_days, range_label

TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def state_db_url(instance: dg.DagsterInstance) -> str:
    """Our state goes where the instance keeps its own: its PostgreSQL database, or a SQLite
    file in its storage folder. A file next to the code would break with remote run workers."""
    storage = instance.run_storage
    postgres_url = getattr(storage, "postgres_url", None)
    if postgres_url:
        return postgres_url
    folder = Path(instance.storage_directory())
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'erp_sync_state.db'}"


class CadenceGuardResource(dg.ConfigurableResource):
    """Asks the ledger before any vendor call. `force` + `reason` (run config) override the
    daily limits for one run, and the override is recorded."""

    timezone: str = settings.TIMEZONE
    database_url: str = ""  # empty: the Dagster instance's own database
    lease_minutes: float = 15.0
    force: bool = False
    reason: str = ""

    _ledger: CadenceLedger | None = PrivateAttr(default=None)
    _instance: dg.DagsterInstance | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._instance = context.instance
        url = self.database_url or state_db_url(context.instance)
        self._ledger = CadenceLedger(
            make_engine(url),
            timezone=self.timezone,
            lease=dt.timedelta(minutes=self.lease_minutes),
            run_is_alive=self._run_is_alive,
        )

    def _run_is_alive(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self._instance else None
        return run is None or run.status not in TERMINAL  # unknown run: trust the lease

    @property
    def ledger(self) -> CadenceLedger:
        assert self._ledger is not None, "the resource was not set up"
        return self._ledger

    def kind(self, context: dg.AssetExecutionContext, backfill_allowed: bool) -> SyncKind:
        if self.force:
            return SyncKind.FORCED
        tags = context.run.tags
        first, last = partition_days(context)
        if backfill_allowed and (first != last or "dagster/backfill" in tags):
            return SyncKind.BACKFILL
        if "dagster/schedule_name" in tags:
            return SyncKind.SCHEDULED
        if "dagster/sensor_name" in tags:
            return SyncKind.SENSOR
        return SyncKind.MANUAL

    def _request(
        self,
        context: dg.AssetExecutionContext,
        endpoint: str,
        operation: Operation,
        payload_hash: str | None,
        backfill_allowed: bool,
        snapshot: bool = False,
    ) -> SyncRequest:
        first, last = partition_days(context)
        return SyncRequest(
            endpoint=endpoint,
            operation=operation,
            business_day=last,
            range_label=range_label(first, last),
            kind=self.kind(context, backfill_allowed),
            run_id=context.run.run_id,
            payload_hash=payload_hash,
            force_reason=self.reason if self.force else None,
            snapshot=snapshot,
        )

    def record_noop(
        self, context: dg.AssetExecutionContext, endpoint: str, operation: Operation, reason: str
    ) -> str:
        self.ledger.record_noop(self._request(context, endpoint, operation, None, False), reason)
        context.log.info(f"cadence {endpoint}: nothing sent: {reason}")
        return f"nothing sent: {reason}"

    def claim(
        self,
        context: dg.AssetExecutionContext,
        endpoint: str,
        operation: Operation,
        payload_hash: str | None = None,
        backfill_allowed: bool = False,
        snapshot: bool = False,
    ) -> Decision:
        decision = self.ledger.claim(
            self._request(context, endpoint, operation, payload_hash, backfill_allowed, snapshot)
        )
        context.log.info(f"cadence {endpoint}: {decision.label}")
        return decision

    def finish(self, decision: Decision, outcome: Outcome, requests: int | None = None) -> None:
        if decision.sync_id is not None:
            self.ledger.finish(decision.sync_id, outcome, requests)

    @contextmanager
    def attempt(self, decision: Decision, stats: CallStats) -> Iterator[None]:
        """Around the calls of an allowed attempt: the ledger records it FAILED if the block
        raises (the day is not spent) and SUCCEEDED otherwise, with the requests it made."""
        before = len(stats.requests)
        try:
            yield
        except BaseException:
            self.finish(decision, Outcome.FAILED, len(stats.requests) - before)
            raise
        self.finish(decision, Outcome.SUCCEEDED, len(stats.requests) - before)
