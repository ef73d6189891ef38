"""Benchmark: Paqtana historical demand from an ERP history file, the project's path against the
polars one-liner and the baseline an integrator writes, on several row orders of the same data;
plus the Pixee catalog diff. Not a test: it prints figures (see bench/README.md).

    .venv/bin/python bench/historical_demand.py --rows 1M 3M 10M

Each measurement runs in its own Python process, so each peak RSS is that path's own:

- project:  `extract_demand` over the history file (streamed, validated, summed per day), then
            `build_historical_demand_chunks` (every body within the 32 MB cap), as the two
            assets run them, with the per-stage seconds;
- polars:   the fair one-liner: typed read, `group_by` with each series sorted by date,
            `write_json` (one unbounded body, nothing validated, days not summed), when polars is
            installed (`.[bench]`);
- baseline: what an integrator writes: `pd.read_csv`, `sort_values`, one `groupby`, orjson per
            series, bodies cut by size;
- reader:   the CSV reader alone (parse and dictionary-encode every block, nothing else): the
            floor of the project's time, shown beside its stages;
- pixee:    `plan_upserts(build_products(...))` over 100,000 products of which 1% changed.

Row orders (the same rows each time): sorted by date, as an ERP export; sorted by item and
location, as a history re-exported by item; random, as exports sorted by document number or
merged files. The data is generated deterministically under bench/.data/ and reused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from history_csv import write_history_csv

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "bench" / ".data"
MAPPING = ROOT / "config" / "erp_mappings" / "canonical.toml"
DAYS = 100
ROWS_PER_SERIES = DAYS  # one daily total per series and day: N rows = N/100 series x 100 days
PRODUCTS = 100_000
LOCATIONS = [f"WH-{i:02d}" for i in range(1, 21)]
FIRST_DAY = dt.date(2026, 8, 14)
LAST_DAY = FIRST_DAY + dt.timedelta(days=DAYS - 1)
WORKSPACE = "WS-BENCH"
SEED = 20261121
ORDERS = {
    "date": "sorted by date (an ERP export)",
    "item": "sorted by item and location (a history re-exported by item)",
    "random": "random (exports sorted by document number, merged files)",
}
STAGES = ("read", "validate", "sum per day", "group", "sort", "serialise", "pack")
# Targets of the issue, at 10M rows on the 2-core machine, each order on its own.
TARGET_ROWS = 10_000_000
MIN_SPEED_VS_POLARS = 1.3
MIN_SPEED_VS_BASELINE = 8.0
MAX_PEAK_MB = 450.0
MAX_PIXEE_SECONDS = 5.0
BODY_CAP_BYTES = 32_000_000 - 64 * 1024


def rows_arg(text: str) -> int:
    """1M, 3M, 10M, 250k or a plain number."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def label(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows / 1e3:g}k"


def peak_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries that over from the parent across
    fork and exec, so a child started by a large parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB


# --- data ---------------------------------------------------------------------------------------


def demand_file(rows: int, order: str) -> Path:
    """The history CSV of `rows` rows in `order`, generated once, in a child process (so the
    driver, whose children are measured, stays small)."""
    path = DATA_DIR / f"demand_{rows}_{order}.csv"
    if not path.exists():
        child(["generate", str(rows), order])
    return path


def generate_demand_file(rows: int, order: str) -> Path:
    """Writes the history CSV of `rows` rows in `order`: N/100 item x location series
    drawn from 100,000 products x 20 locations, 100 days each, one line per series and day;
    quantities are whole units, about one in ten with a half. The three orders hold the same
    lines."""
    path = DATA_DIR / f"demand_{rows}_{order}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(SEED)
    series = max(rows // ROWS_PER_SERIES, 1)
    pairs = np.sort(rng.choice(len(LOCATIONS) * PRODUCTS, size=series, replace=False))
    day, line_series, units, half = [], [], [], []
    for offset in range(DAYS):  # the rows sorted by date, drawn day by day
        count = min(series, rows - offset * series) if offset == DAYS - 1 else series
        day.append(np.full(count, offset, dtype=np.int32))
        line_series.append(np.arange(count, dtype=np.int64))
        units.append(rng.integers(0, 50, count))
        half.append(rng.random(count) < 0.1)
    day, pair = np.concatenate(day), pairs[np.concatenate(line_series)]
    units, half = np.concatenate(units), np.concatenate(half)
    if order == "item":
        lines = np.lexsort((day, pair // PRODUCTS, pair % PRODUCTS))
    elif order == "random":
        lines = np.random.default_rng(SEED + 1).permutation(len(day))
    else:
        lines = np.arange(len(day))
    day, pair, units, half = day[lines], pair[lines], units[lines], half[lines]
    return write_history_csv(
        path,
        day,
        pair,
        units,
        half,
        first_day=FIRST_DAY,
        days=DAYS,
        locations=LOCATIONS,
        products=PRODUCTS,
    )


# --- the measured paths (each in a child process) ------------------------------------------------


def measure_project(path: Path) -> dict:
    from pipelines.core import stage_clock
    from pipelines.core.erp.extract import extract_demand
    from pipelines.core.erp.mapping import load_mapping
    from pipelines.core.locations import WorkspaceMapping
    from pipelines.core.paqtana.demand import build_historical_demand_chunks

    workspaces = WorkspaceMapping(default=WORKSPACE)
    with tempfile.TemporaryDirectory() as exports, stage_clock.recording() as stages:
        history = Path(exports) / "history"
        history.mkdir()
        (history / "demand.csv").symlink_to(path.resolve())
        started = time.perf_counter()
        extracted = extract_demand(Path(exports), FIRST_DAY, LAST_DAY, load_mapping(MAPPING))
        extract_seconds, extract_peak = time.perf_counter() - started, peak_mb()
        rows = extracted.rows_read
        # What the paqtana_historical_demand asset runs; the frame is handed over, so the
        # builder lets it go once it is encoded.
        built = build_historical_demand_chunks(_handed_over(extracted), workspaces)
        seconds = time.perf_counter() - started
    bodies = built.bodies
    assert max(map(len, bodies)) <= BODY_CAP_BYTES
    return {
        "rows": rows,
        "seconds": seconds,
        "extract_seconds": extract_seconds,
        "peak_mb": peak_mb(),
        "extract_peak_mb": extract_peak,
        "bodies": len(bodies),
        "largest_body": max(map(len, bodies)),
        "stages": stages,
    }


def _handed_over(extracted: object) -> object:
    """The extract's clean frame, with the result's reference to it dropped."""
    frame, extracted.clean = extracted.clean, None
    return frame


def measure_reader(path: Path) -> dict:
    from pipelines.core.erp.contract import DEMAND, FileKind
    from pipelines.core.erp.mapping import load_mapping
    from pipelines.core.erp.reader import iter_text_blocks

    dialect = load_mapping(MAPPING).dialect(FileKind.DEMAND)
    started = time.perf_counter()
    rows = sum(len(block) for block in iter_text_blocks(path, DEMAND, dialect))
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mb": peak_mb()}


def measure_polars(path: Path) -> dict:
    import polars as pl

    started = time.perf_counter()
    body = (
        pl.read_csv(
            path,
            schema_overrides={"date": pl.Date, "location": pl.Categorical, "code": pl.Categorical},
        )
        .group_by("location", "code")
        .agg(pl.col("date").sort(), pl.col("quantity").sort_by("date"))
        .write_json()
    )
    return {
        "rows": sum(1 for _ in path.open("rb")) - 1,  # after the clock: not part of its time
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_mb(),
        "bodies": 1,
        "largest_body": len(body),
    }


def measure_baseline(path: Path) -> dict:
    import orjson
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path).sort_values(["location", "code", "date"])
    series = frame.groupby(["location", "code"], sort=False).agg({"date": list, "quantity": list})
    bodies, pending, size = [], [], 0
    for (location, code), dates, quantities in zip(
        series.index, series["date"], series["quantity"], strict=True
    ):
        text = orjson.dumps(
            {
                "location": location,
                "code": code,
                "workspaceCode": WORKSPACE,
                "dates": dates,
                "quantities": quantities,
            }
        )
        if pending and size + len(text) + 1 > BODY_CAP_BYTES:
            bodies.append(b'{"data":[' + b",".join(pending) + b"]}")
            pending, size = [], 11
        pending.append(text)
        size += len(text) + 1
    if pending:
        bodies.append(b'{"data":[' + b",".join(pending) + b"]}")
    return {
        "rows": len(frame),
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_mb(),
        "bodies": len(bodies),
        "largest_body": max(map(len, bodies)),
    }


def measure_pixee(products: int = PRODUCTS, changed_share: float = 0.01) -> dict:
    import pandas as pd
    from stdnum import ean as stdnum_ean

    from pipelines.core.erp.contract import PRODUCTS as CONTRACT
    from pipelines.core.erp.contract import ColumnType
    from pipelines.core.pixee.changes import plan_upserts
    from pipelines.core.pixee.payloads import build_products, content_hash

    rng = np.random.default_rng(SEED)
    bodies = [f"376{i:09d}" for i in range(products)]
    frame = pd.DataFrame(
        {
            c.name: pd.array(rng.random(products) * 100, dtype="float64")
            if c.type is ColumnType.NUMBER
            else pd.array([f"{c.name} {i}" for i in range(products)], dtype="str")
            for c in CONTRACT.columns
        }
    )
    frame["ean"] = pd.array([b + stdnum_ean.calc_check_digit(b) for b in bodies], dtype="str")
    synced = {p["ean"]: content_hash(p) for p in build_products(frame)}  # Pixee's last state
    changed = rng.choice(products, int(products * changed_share), replace=False)
    frame.loc[changed, "name"] = frame.loc[changed, "name"] + " (new)"
    started = time.perf_counter()
    plan = plan_upserts(build_products(frame), synced)
    seconds = time.perf_counter() - started
    assert plan.changed == len(changed) and plan.unchanged == products - len(changed)
    return {
        "products": products,
        "changed": plan.changed,
        "seconds": seconds,
        "peak_mb": peak_mb(),
    }


# --- driver -------------------------------------------------------------------------------------


def child(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


MEASURES = {
    "project": measure_project,
    "reader": measure_reader,
    "polars": measure_polars,
    "baseline": measure_baseline,
}


def run_child(kind: str, args: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    if kind == "generate":
        result = {"path": str(generate_demand_file(rows_arg(args[0]), args[1]))}
    elif kind == "pixee":
        result = measure_pixee()
    else:
        result = MEASURES[kind](Path(args[0]))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows",
        nargs="+",
        type=rows_arg,
        default=[TARGET_ROWS],
        help="history sizes, e.g. 1M 3M 10M (default 10M; the targets are at 10M)",
    )
    parser.add_argument(
        "--orders",
        nargs="+",
        choices=list(ORDERS),
        default=list(ORDERS),
        help="row orders (default: all)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="interleaved runs of each path per file; the fastest counts (default 3)",
    )
    parser.add_argument(
        "--baseline-repeat",
        type=int,
        default=None,
        help="runs of the baseline per file (default: --repeat; it takes ~2 s per million rows)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument("--no-polars", action="store_true", help="skip the polars one-liner")
    parser.add_argument("--no-pixee", action="store_true", help="skip the Pixee diff")
    parser.add_argument(
        "--daily-sync",
        action="store_true",
        help="also run bench/daily_sync.py: daily_sync of the sample day from launch to success",
    )
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="also run the end-to-end benches: bench/daily_sync.py, bench/backfill.py (a year "
        "of demand through Dagster, both event logs) and bench/pixee_load.py (100,000 products "
        "under the rate limits)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        run_child(kind, rest)
        return

    paths = ["project", "reader"]
    if not args.no_polars and polars_installed():
        paths.append("polars")
    if not args.no_baseline:
        paths.append("baseline")
    runs = {p: args.repeat for p in paths}
    if args.baseline_repeat is not None and "baseline" in runs:
        runs["baseline"] = args.baseline_repeat
    print(
        f"best of {args.repeat} interleaved runs per path and file (the fastest run's seconds, "
        "the highest peak RSS of all runs); each path in its own process"
    )
    results: dict[tuple[str, int], dict[str, dict]] = {}
    for rows in sorted(args.rows):
        for order in args.orders:
            path = demand_file(rows, order)
            measured: dict[str, list[dict]] = {p: [] for p in paths}
            for attempt in range(max(runs.values())):  # interleaved: a busy moment hits all
                for name in paths:
                    if attempt < runs[name]:
                        measured[name].append(child([name, str(path)]))
            results[order, rows] = {name: best_of(r) for name, r in measured.items()}
            print_file(order, rows, results[order, rows])
    summarise(results, args.orders, sorted(args.rows))
    if not args.no_pixee:
        pixee = child(["pixee"])
        verdict = "ok" if pixee["seconds"] < MAX_PIXEE_SECONDS else "ABOVE TARGET"
        print(
            f"\npixee diff: {pixee['products']:,} products, {pixee['changed']:,} changed: "
            f"{pixee['seconds']:.2f} s (target < {MAX_PIXEE_SECONDS:g} s: {verdict}), "
            f"peak {pixee['peak_mb']:.0f} MB"
        )
    if args.daily_sync or args.end_to_end:
        import daily_sync

        daily_sync.report(daily_sync.measure())
    if args.end_to_end:
        import backfill
        import pixee_load

        backfill.history_file()
        backfill.report([backfill.measure(storage) for storage in ("dagster", "batched")])
        pixee_load.report(pixee_load.measure(100_000))


def polars_installed() -> bool:
    try:
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


def best_of(runs: list[dict]) -> dict:
    """The fastest run's figures, with the highest peak RSS of all runs."""
    best = min(runs, key=lambda run: run["seconds"])
    return best | {"peak_mb": max(run["peak_mb"] for run in runs), "runs": len(runs)}


def print_file(order: str, rows: int, paths: dict[str, dict]) -> None:
    """One file's figures: each path, then where the project's time went."""
    print(f"\n{label(rows)} rows, {ORDERS[order]}")
    print(f"  {'path':<18}{'seconds':>9}{'rows/s':>12}{'peak RSS':>11}{'bodies':>8}")
    for name, result in paths.items():
        bodies = f"{result['bodies']:>8}" if "bodies" in result else ""
        print(
            f"  {name:<18}{result['seconds']:>9.2f}{_rate(result):>12,.0f}"
            f"{result['peak_mb']:>8.0f} MB{bodies}"
        )
    project = paths["project"]
    stages = project["stages"]
    seconds = {name: stages.get(name, 0.0) for name in STAGES}
    seconds["sum per day"] += stages.get("sum per day, final", 0.0)
    shown = ", ".join(f"{name} {value:.2f}" for name, value in seconds.items())
    print(
        f"  project stages, s: {shown} (read: waiting for the parser thread; sum per day: "
        f"{stages.get('sum per day, final', 0.0):.2f} of it writing the frame day by day; "
        f"sort, serialise: two threads)\n  extract {project['extract_seconds']:.2f} s, peak "
        f"{project['extract_peak_mb']:.0f} MB; the reader alone {paths['reader']['seconds']:.2f} s"
    )


def summarise(results: dict, orders: list[str], sizes: list[int]) -> None:
    """Per order at the largest size, worst first: the project against polars and the baseline,
    its peak RSS, each against its target (the targets are for 10M rows); then linearity."""
    largest = sizes[-1]
    rows_of = {order: results[order, largest] for order in orders}

    def speed(order: str, other: str) -> float | None:
        paths = rows_of[order]
        return paths[other]["seconds"] / paths["project"]["seconds"] if other in paths else None

    ranked = sorted(orders, key=lambda o: speed(o, "polars") or speed(o, "baseline") or 0.0)
    at_target = largest == TARGET_ROWS
    print(
        f"\nat {label(largest)} rows, worst order first"
        + ("" if at_target else f" (the targets are for {label(TARGET_ROWS)} rows)")
    )
    print(
        f"  {'order':<8}{'project s':>10}{'vs polars':>11}{'vs baseline':>13}"
        f"{'peak RSS':>11}  verdict"
    )
    for order in ranked:
        paths = rows_of[order]
        polars, baseline = speed(order, "polars"), speed(order, "baseline")
        peak = paths["project"]["peak_mb"]
        misses = []
        if polars is not None and polars < MIN_SPEED_VS_POLARS:
            misses.append(f"polars < {MIN_SPEED_VS_POLARS:g}x")
        if baseline is not None and baseline < MIN_SPEED_VS_BASELINE:
            misses.append(f"baseline < {MIN_SPEED_VS_BASELINE:g}x")
        if peak > MAX_PEAK_MB:
            misses.append(f"peak > {MAX_PEAK_MB:.0f} MB")
        verdict = ("BELOW TARGET: " + ", ".join(misses)) if misses else "ok"
        print(
            f"  {order:<8}{paths['project']['seconds']:>10.2f}{_ratio(polars):>11}"
            f"{_ratio(baseline):>13}{peak:>8.0f} MB  {verdict if at_target else '-'}"
        )
    if len(sizes) > 1:
        print("project seconds per million rows (flat = linear):")
        for order in orders:
            per_million = ", ".join(
                f"{label(r)} {results[order, r]['project']['seconds'] / r * 1e6:.2f}" for r in sizes
            )
            print(f"  {order:<8}{per_million}")


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _rate(result: dict) -> float:
    return result["rows"] / result["seconds"]


if __name__ == "__main__":
    main()
