"""The audit that turns a scenario's end state into figures: rows in (the clean input the extracts
staged) / sent (what the vendor holds, intact) / rejected (in a rejects file) / lost, duplicates,
faults injected / survived; and the cadence the vendors' request log must show."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.core.staging import StagingStore
from tests.reliability.harness import DAY, ORG
from tests.reliability.wire import WireLog

# Where the tests append one JSON line of figures per scenario (scripts/reliability_report.py).
FIGURES_ENV = "RELIABILITY_FIGURES"

PAQTANA_DEMAND = f"/v2/org/{ORG}/historical_demand"
PAQTANA_INVENTORY = f"/v2/org/{ORG}/master_inventory"
PIXEE_BATCH = "/api/v1/ext/products/batch"
PIXEE_DELTA = "/api/v1/ext/products/delta"
PXM_COLLECTION = "/v2.1/collection"
PIXEE_BATCH_SIZE = 500


@dataclass
class DatasetFigures:
    rows_in: int
    rows_sent: int
    rows_rejected: int
    rows_lost: int
    duplicates: int


@dataclass
class Figures:
    scenario: str
    faults_injected: int
    faults_survived: int
    rows_in: int
    rows_sent: int
    rows_rejected: int
    rows_lost: int
    duplicates: int
    runs: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    datasets: dict[str, DatasetFigures] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def pixee_rejects(data_dir: Path, day: str = DAY) -> pd.DataFrame:
    """The day's rejects file of the Pixee sync: EAN in `value`, the vendor's message in
    `reason`."""
    return _rejects(data_dir, "pixee_products_sync", day)


def _rejects(data_dir: Path, asset: str, day: str) -> pd.DataFrame:
    path = StagingStore(data_dir).rejects_path(asset, day)
    return pd.read_csv(path, dtype=str) if path.exists() else pd.DataFrame({"value": []})


def _dataset(
    staged: dict[tuple, Any],
    received: dict[tuple, Any],
    duplicates: int,
    rejected_keys: set[tuple] | None = None,
    rejected_rows: int = 0,
) -> DatasetFigures:
    """Rows whose value arrived intact count as sent; a row neither sent nor rejected, or sent
    with another value, is lost, and so is a row the vendor holds that was never staged.
    Rejects are matched by key where the file names it (Pixee: the EAN), else counted (a
    Paqtana reject names the location or workspace, not the row)."""
    sent = {k for k, v in staged.items() if k in received and received[k] == v}
    missing = set(staged) - sent
    if rejected_keys is not None:
        rejected = len(missing & rejected_keys)
    else:
        rejected = min(rejected_rows, len(missing))
    unexpected = set(received) - set(staged)
    lost = len(missing) - rejected + len(unexpected)
    return DatasetFigures(len(staged), len(sent), rejected, lost, duplicates)


def audit(
    scenario: str,
    sandbox: Any,
    wire: WireLog,
    data_dir: Path,
    runs: list[str],
    failures: Iterable[str] = (),
    pixee_rejected: Iterable[str] = (),
    day: str = DAY,
) -> Figures:
    """Compare what the vendors hold with the clean input staged by the extracts. Pixee
    refusals are the day's rejects file plus `pixee_rejected`: the EANs earlier runs' files
    listed (a later run of the same day rewrites the file)."""
    staging = StagingStore(data_dir)
    items = staging.read_day("erp_items", pd.Timestamp(day).date())
    demand = staging.read_day("erp_demand", pd.Timestamp(day).date())
    products = staging.read_day("pixee_products_payload", pd.Timestamp(day).date())

    inventory_in = {(str(r.location), str(r.code)): float(r.on_hand) for r in items.itertuples()}
    inventory_got = {
        (r["location"], r["code"]): float(r.get("onHandStock") or 0)
        for r in sandbox.master_inventory()
    }
    demand_in = {
        (str(r.location), str(r.code), r.date.date().isoformat()): float(r.quantity)
        for r in demand.itertuples()
    }
    demand_got = {
        (r["location"], r["code"], r["date"]): float(r["quantity"])
        for r in sandbox.historical_demand()
    }
    products_in = {(str(e),): True for e in products["ean"]}
    products_got = {(p["ean"],): True for p in sandbox.pixee_products()}
    refused_products = pixee_rejects(data_dir, day)

    datasets = {
        # A snapshot accepted twice for one day is a duplicate send of every row in it.
        "inventory": _dataset(
            inventory_in,
            inventory_got,
            wire.duplicates("inventory"),
            rejected_rows=len(_rejects(data_dir, "paqtana_master_inventory", day)),
        ),
        "demand": _dataset(
            demand_in,
            demand_got,
            wire.duplicates("demand"),
            rejected_rows=len(_rejects(data_dir, "paqtana_historical_demand", day)),
        ),
        "pixee": _dataset(
            products_in,
            products_got,
            wire.duplicates("pixee"),
            rejected_keys={(str(v),) for v in [*refused_products["value"], *pixee_rejected]},
        ),
    }
    injected = sum(1 for r in sandbox.requests() if r["fault"])
    lost = sum(d.rows_lost for d in datasets.values())
    duplicates = sum(d.duplicates for d in datasets.values())
    figures = Figures(
        scenario=scenario,
        faults_injected=injected,
        faults_survived=injected if lost == 0 and duplicates == 0 else 0,
        rows_in=sum(d.rows_in for d in datasets.values()),
        rows_sent=sum(d.rows_sent for d in datasets.values()),
        rows_rejected=sum(d.rows_rejected for d in datasets.values()),
        rows_lost=lost,
        duplicates=duplicates,
        runs=list(runs),
        failures=list(failures),
        datasets=datasets,
    )
    record(figures)
    return figures


def record(figures: Figures) -> None:
    path = os.environ.get(FIGURES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(figures.as_json() + "\n")


def cadence_violations(sandbox: Any, wire: WireLog, business_days: int = 1) -> list[str]:
    """Every way the sandbox's request log shows the vendors' limits exceeded: more than one
    accepted inventory snapshot or PXM/Pixee delta read per day, auto_calculate more than once,
    a batch above 500, a rate-limit refusal the sandbox had to give on its own (not a fault)."""
    problems = []
    # Answered by the vendor itself (a fault other than these answers in its place).
    ok = [
        r
        for r in sandbox.requests()
        if r["status"] is not None
        and r["status"] < 300
        and r["fault"] in (None, "partial_batch", "expire_tokens")
    ]
    inventory_puts = [r for r in ok if r["path"] == PAQTANA_INVENTORY and r["method"] == "PUT"]
    if len(inventory_puts) > business_days:
        problems.append(f"{len(inventory_puts)} accepted master inventory PUTs")
    auto = [p for p in sandbox.demand_posts() if p["auto_calculate"]]
    if len(auto) > business_days:
        problems.append(f"auto_calculate accepted {len(auto)} times")
    first_pages = [
        r for r in ok if r["path"] == PXM_COLLECTION and "offset=0" in (r["query"] or "")
    ]
    if len(first_pages) > business_days:
        problems.append(f"{len(first_pages)} PXM catalog reads")
    delta_reads = [r for r in ok if r["path"] == PIXEE_DELTA and "page=1&" in r["query"] + "&"]
    if len(delta_reads) > business_days:
        problems.append(f"{len(delta_reads)} Pixee delta reads")
    if any(len(batch) > PIXEE_BATCH_SIZE for batch in wire.accepted["pixee"]):
        problems.append("a Pixee batch above 500 products")
    refused = [r for r in sandbox.requests() if r["status"] == 429 and not r["fault"]]
    if refused:
        problems.append(f"{len(refused)} requests rate-limited by the sandbox itself")
    return problems
