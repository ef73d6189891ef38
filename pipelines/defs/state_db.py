"""Our state database as a resource: ONE engine, created once per run process, for the cadence
ledger and every table of synced state (Pixee products, accepted snapshots, demand days). It is
the Dagster instance's own database, so the state follows the instance: a SQLite file in its
storage folder on the embedded default, the same PostgreSQL database on a deployment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr

from pipelines.core.cadence.ledger import CadenceLedger
from pipelines.core.clock import sync_clock
from pipelines.core.state_db import make_engine
from pipelines.defs import settings

TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def state_db_url(instance: dg.DagsterInstance) -> str:
    """Where the instance keeps its own state: its PostgreSQL database, or a SQLite file in its
    storage folder. A file next to the code would break with remote run workers."""
    postgres_url = getattr(instance.run_storage, "postgres_url", None)
    if postgres_url:
        return postgres_url
    folder = Path(instance.storage_directory())
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'erp_sync_state.db'}"


def run_liveness(instance: dg.DagsterInstance | None):  # noqa: ANN201 - Callable[[str], bool]
    """Whether a run may still be sending: the instance's word where it has one (run monitoring
    on a deployment marks dead runs failed); an unknown run is trusted to its lease."""

    def alive(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id) if instance is not None else None
        return run is None or run.status not in TERMINAL

    return alive


class StateDatabaseResource(dg.ConfigurableResource):
    """The state database: the ledger and our synced state share its one engine."""

    database_url: str = ""  # empty: the Dagster instance's own database
    # An attempt is live while its heartbeat renews this lease; a dead one frees its endpoint
    # within it. Empty: SYNC_LEASE_SECONDS, else 60.
    lease_seconds: float | None = None

    _engine: sa.Engine | None = PrivateAttr(default=None)
    _instance: dg.DagsterInstance | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._instance = context.instance
        url = self.database_url or (state_db_url(context.instance) if context.instance else "")
        if not url:
            raise dg.Failure("the state database needs a Dagster instance or database_url")
        self._engine = make_engine(url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def engine(self) -> sa.Engine:
        assert self._engine is not None, "the resource was not set up"
        return self._engine

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.lease_seconds or settings.LEASE_SECONDS)

    def ledger(self) -> CadenceLedger:
        return CadenceLedger(
            self.engine,
            timezone=settings.TIMEZONE,
            clock=sync_clock(settings.SYNC_NOW),
            lease=self.lease,
            run_is_alive=run_liveness(self._instance),
        )
