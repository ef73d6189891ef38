"""What the scale tests read back: the sandbox's wire log, the ledger table in PostgreSQL, step
timings and processes from the event log, and a failure report that names the cause."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from erp_sandbox import Sandbox
from pipelines.core.cadence.ledger import syncs
from pipelines.core.pixee.synced_state import synced_products
from pipelines.definitions import defs

TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
STEP_END = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
_GRAPH = defs.resolve_asset_graph()
_STEPS = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.is_executable]
POOL_OF_STEP = {a.op.name: a.op.pool for a in _STEPS if a.op.pool}
PXM_TOKEN = ("POST", "/v2.1/oauth/authorize")
# asset -> the step that materializes it (one step may materialize several: paqtana_sync)
_STEP_OF = {key: _GRAPH.get(key).assets_def.node_def.name for key in _GRAPH.executable_asset_keys}


def _upstream_steps(key: dg.AssetKey) -> set[str]:
    """The steps that write what `key` reads; an observed asset (no step) stands for its own."""
    steps: set[str] = set()
    for parent in _GRAPH.get(key).parent_keys:
        if _GRAPH.get(parent).is_executable:
            steps.add(_STEP_OF[parent])
        else:
            steps |= _upstream_steps(parent)
    return steps


# asset step -> the asset steps whose staged files or caches it reads
UPSTREAM_OF_STEP: dict[str, set[str]] = {}
for _key, _step in _STEP_OF.items():
    UPSTREAM_OF_STEP.setdefault(_step, set()).update(_upstream_steps(_key))


def assert_sent_once(sandbox: Sandbox, engine: sa.Engine) -> None:
    """One day's sync reached the vendors exactly once: one inventory PUT, one demand POST,
    the 501 sample products in two batches (500 + 1), one Pixee delta read, one PXM login;
    and what Pixee stored is what the PostgreSQL state marks as synced."""
    calls = [(r["method"], r["path"]) for r in sandbox.requests()]
    assert calls.count(("PUT", "/v2/org/demo-org/master_inventory")) == 1, calls
    assert calls.count(("POST", "/v2/org/demo-org/historical_demand")) == 1, calls
    assert calls.count(("POST", "/api/v1/ext/products/batch")) == 2, calls
    assert calls.count(("GET", "/api/v1/ext/products/delta")) == 1, calls
    assert calls.count(PXM_TOKEN) == 1, calls
    assert [p["auto_calculate"] for p in sandbox.demand_posts()] == [True]
    with engine.connect() as conn:
        synced = set(conn.execute(sa.select(synced_products.c.ean)).scalars())
    assert {p["ean"] for p in sandbox.pixee_products()} == synced
    assert len(synced) > 490  # the sample's 501, less any the sandbox refused


def ledger_rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(syncs).order_by(syncs.c.id)))


def step_events(
    instance: dg.DagsterInstance, run_id: str, types: set[dg.DagsterEventType]
) -> list[dg.EventLogEntry]:
    return [e for e in instance.all_logs(run_id) if e.dagster_event_type in types]


def pool_intervals(
    instance: dg.DagsterInstance, run_ids: list[str]
) -> dict[str, list[tuple[float, float]]]:
    """Per pool, the (start, end) wall time of every step of that pool in these runs."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    for run_id in run_ids:
        starts: dict[str, float] = {}
        types = STEP_END | {dg.DagsterEventType.STEP_START}
        for entry in step_events(instance, run_id, types):
            pool = POOL_OF_STEP.get(entry.step_key or "")
            if pool is None:
                continue
            if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            else:
                intervals.setdefault(pool, []).append((starts[entry.step_key], entry.timestamp))
    return intervals


def failure_report(instance: dg.DagsterInstance, run_ids: list[str], *logs: Path) -> str:
    """Step and run failures of these runs, then the tail of each process log."""
    lines = []
    failures = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    for run_id in run_ids:
        for entry in step_events(instance, run_id, failures):
            lines.append(f"{run_id[:8]} {entry.step_key}: {entry.message}")
            error = entry.dagster_event.event_specific_data
            if getattr(error, "error", None) is not None:
                lines.append(error.error.to_string())
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        lines.append(f"--- {log.name} (last 3000 chars) ---\n{text[-3000:]}")
    return "\n".join(lines)
