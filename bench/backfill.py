"""Benchmark: the one-run history backfill of 365 days x 20,000 series (7.3M daily values)
through Dagster, as a person launches it: `dagster job execute -j demand_backfill` over the
range, on a fresh SQLite DAGSTER_HOME, live against the local API sandbox. Not a test.

    .venv/bin/python bench/backfill.py

It prints the run's wall time (launch to exit), the largest peak RSS of its processes and of
them all at once, each step's seconds, the events the run stored by type, and the seconds
Dagster spent writing them (the instance's event log storage is Dagster's SQLite one, timed:
bench/timed_event_log.py), against the target: Dagster's overhead under 10 s.

The history (one CSV sorted by date, 1,000 products x 20 locations, about 230 MB) is generated
once under bench/.data/ and linked into a temporary ERP_EXPORT_DIR as `history/`.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from history_csv import write_history_csv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA_DIR = ROOT / "bench" / ".data"
LAST_DAY = dt.date(2026, 11, 21)
DAYS = 365
FIRST_DAY = LAST_DAY - dt.timedelta(days=DAYS - 1)
PRODUCTS = 1_000
LOCATIONS = [f"WH-{i:02d}" for i in range(1, 21)]
SEED = 20261121
TARGET_OVERHEAD_S = 10.0


def history_file() -> Path:
    """365 days x 20,000 series, one line per series and day, sorted by date."""
    path = DATA_DIR / f"backfill_{DAYS}d_{PRODUCTS * len(LOCATIONS)}s.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(SEED)
    series = PRODUCTS * len(LOCATIONS)
    rows = series * DAYS
    day = np.repeat(np.arange(DAYS), series)
    pair = np.tile(np.arange(series), DAYS)
    units = rng.integers(0, 50, rows)
    half = rng.random(rows) < 0.1
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


class TreeMemory:
    """Polls the peak RSS (VmHWM) of a process and its descendants until stopped."""

    def __init__(self, pid: int, every_s: float = 0.1) -> None:
        self.pid, self.every_s = pid, every_s
        self.peaks: dict[int, tuple[str, float]] = {}
        self.first_seen: dict[int, float] = {}  # Unix time
        self.together_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            now = 0.0
            for pid in self._tree():
                status = _status(pid)
                if not status:
                    continue
                hwm, rss = status.get("VmHWM", 0.0), status.get("VmRSS", 0.0)
                name = _command(pid)
                self.first_seen.setdefault(pid, time.time())
                if hwm > self.peaks.get(pid, ("", 0.0))[1]:
                    self.peaks[pid] = (name, hwm)
                now += rss
            self.together_mb = max(self.together_mb, now)
            self._stop.wait(self.every_s)

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = collections.defaultdict(list)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children[ppid].append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found


def _status(pid: int) -> dict[str, float]:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def _command(pid: int) -> str:
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in args if a)
    for marker in ("execute_step", "execute_run", "job execute"):
        if marker in text:
            return marker
    return text[:40]


STORAGES = {
    "dagster": "TimedSqliteEventLogStorage",  # Dagster's SQLite event log: one write an event
    "batched": "TimedBatchedSqliteEventLogStorage",  # pipelines/defs/event_log_storage.py
}


def measure(storage: str = "batched", executor: str | None = None) -> dict:
    import dagster as dg

    from erp_sandbox import SandboxConfig, run_sandbox
    from erp_sandbox.demo import sandbox_environment

    history = history_file()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        home, timing, exports = work / "home", work / "timing", work / "exports"
        for folder in (home, timing, exports):
            folder.mkdir()
        (exports / "history").mkdir()
        (exports / "history" / "demand_history.csv").symlink_to(history)
        (home / "dagster.yaml").write_text(
            "telemetry:\n  enabled: false\n"
            "event_log_storage:\n"
            "  module: timed_event_log\n"
            f"  class: {STORAGES[storage]}\n"
            f"  config:\n    base_dir: {home / 'history' / 'runs'}\n"
        )
        command = [sys.executable, "-m", "dagster", "job", "execute", "-m"]
        command += ["pipelines.definitions", "-j", "demand_backfill", "--tags"]
        command += [
            json.dumps(
                {
                    "dagster/asset_partition_range_start": FIRST_DAY.isoformat(),
                    "dagster/asset_partition_range_end": LAST_DAY.isoformat(),
                }
            )
        ]
        if executor is not None:
            (work / "run.yaml").write_text(f"execution:\n  config:\n    {executor}: {{}}\n")
            command += ["-c", str(work / "run.yaml")]
        config = SandboxConfig()
        with run_sandbox(config) as sandbox:
            env = os.environ | sandbox_environment(sandbox, config)
            env |= {
                "DAGSTER_HOME": str(home),
                "SYNC_MODE": "live",
                "ERP_EXPORT_DIR": str(exports),
                "ERP_SYNC_DATA_DIR": str(work / "data"),
                "SYNC_OUTBOX_DIR": str(work / "outbox"),
                "BENCH_EVENT_TIMING_DIR": str(timing),
                # Dagster's storage as it ships: no batches (the project's turns them on)
                **({"DAGSTER_EVENT_BATCH_SIZE": "0"} if storage == "dagster" else {}),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
            }
            started = time.perf_counter()
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            memory = TreeMemory(process.pid)
            output = process.communicate()[0].decode(errors="replace")
            seconds = time.perf_counter() - started
            memory.stop()
            received = len(sandbox.historical_demand())
            posts = len(sandbox.demand_posts())
        if process.returncode != 0:
            raise SystemExit(f"demand_backfill failed:\n{output[-4000:]}")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            [record] = instance.get_run_records()
            run_id = record.dagster_run.run_id
            stats = instance.get_run_step_stats(run_id)
            steps = {s.step_key: s.end_time - s.start_time for s in stats}
            ran: dict[int, list[str]] = collections.defaultdict(list)
            for r in instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.STEP_START
            ).records:
                ran[r.event_log_entry.dagster_event.pid].append(r.event_log_entry.step_key)
            stored = collections.Counter(
                e.dagster_event.event_type_value if e.dagster_event else "LOG_MESSAGE"
                for e in instance.all_logs(run_id)
            )
            materialized = {
                key: len(instance.get_materialized_partitions(dg.AssetKey(key)))
                for key in ("erp_demand", "paqtana_historical_demand")
            }
        writes: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0.0])
        for path in timing.glob("*.tsv"):
            for line in path.read_text().splitlines():
                kind, count, calls, value = line.split("\t")
                writes[kind][0] += int(count)
                writes[kind][1] += int(calls)
                writes[kind][2] += float(value)
    return {
        "seconds": seconds,
        "run_seconds": record.end_time - record.start_time,
        "steps": steps,
        "stored": dict(stored),
        "storage": storage,
        "executor": executor or "default",
        "writes": {k: tuple(v) for k, v in writes.items()},
        "peaks": sorted(
            ((_ran(ran.get(pid), name), mb) for pid, (name, mb) in memory.peaks.items()),
            key=lambda p: -p[1],
        ),
        "together_mb": memory.together_mb,
        "received": received,
        "posts": posts,
        "materialized": materialized,
    }


def _ran(steps: list[str] | None, command: str) -> str:
    """What a process of the run did: its steps (from the STEP_START events' pids)."""
    if not steps:
        return command
    return f"step {steps[0]}" if len(steps) == 1 else f"{len(steps)} steps in one process"


def report(results: list[dict]) -> None:
    rows = (PRODUCTS * len(LOCATIONS)) * DAYS
    print(
        f"\ndemand_backfill of {DAYS} days x {PRODUCTS * len(LOCATIONS):,} series "
        f"({rows / 1e6:.1f}M daily values), one run, `dagster job execute` on a fresh SQLite "
        f"instance, live against the sandbox:"
    )
    for result in results:
        name = {
            "dagster": "Dagster's SQLite event log (one write an event)",
            "batched": "the project's (pipelines/defs/event_log_storage.py: batches)",
        }[result["storage"]]
        print(f"\n  event log: {name}; executor: {result['executor']}")
        print(
            f"    wall {result['seconds']:.1f} s launch to exit (run {result['run_seconds']:.1f} s)"
            f"; sandbox received {result['received']:,} values in {result['posts']} POST(s)"
        )
        largest = result["peaks"][0] if result["peaks"] else ("-", 0.0)
        print(
            f"    peak RSS: largest process {largest[1]:.0f} MB ({largest[0]}), all the run's "
            f"processes at once {result['together_mb']:.0f} MB"
        )
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(result["steps"].items()))
        print(f"    steps: {steps}")
        print(f"    partitions materialized: {result['materialized']}")
        events = sum(n for n, _, _ in result["writes"].values())
        writes = sum(w for _, w, _ in result["writes"].values())
        write_s = sum(s for _, _, s in result["writes"].values())
        print(f"    {events:,} events stored in {writes:,} writes, {write_s:.1f} s:")
        ordered = sorted(result["writes"].items(), key=lambda kv: -kv[1][2])
        for kind, (count, calls, seconds) in ordered[:6]:
            print(f"      {kind:<32} {count:6,} events {calls:6,} writes {seconds:6.2f} s")
        verdict = "ok" if write_s < TARGET_OVERHEAD_S else "ABOVE TARGET"
        print(
            f"    Dagster's event writes: {write_s:.1f} s of {result['seconds']:.1f} s "
            f"({write_s / result['seconds']:.0%}); target < {TARGET_OVERHEAD_S:g} s: {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default=None)
    parser.add_argument(
        "--storage",
        choices=["dagster", "batched", "both"],
        default="both",
        help="the event log storage: Dagster's SQLite one, the project's, or both (default)",
    )
    args = parser.parse_args()
    storages = ["dagster", "batched"] if args.storage == "both" else [args.storage]
    history_file()
    report([measure(storage, args.executor) for storage in storages])


if __name__ == "__main__":
    main()
