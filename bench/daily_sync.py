"""Benchmark: `daily_sync` of the sample day from launch to success, as a deployment starts it
(`dagster job execute` in its own process, a fresh SQLite DAGSTER_HOME). Not a test.

    .venv/bin/python bench/daily_sync.py

Three runs of the latest complete sample drop (2026-11-21), each on a fresh instance:

- dry-run, the job's default executor (in_process: every step in the run's process);
- live against the local API sandbox (sends to Paqtana, Pixee; reads PXM), default executor;
- dry-run with `execution: {config: {multiprocess: {}}}` (a process per step, the former
  default), for comparison.

Each prints the seconds from launch to the command's exit, the run's own start-to-end, the number
of steps and how many processes ran them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAY = "2026-11-21"
TARGET_S = 10.0


def run_once(mode: str, executor: str | None, extra_env: dict[str, str] | None = None) -> dict:
    """One `dagster job execute` of daily_sync for DAY on a fresh instance."""
    import dagster as dg

    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = os.environ | (extra_env or {})
        env |= {
            "DAGSTER_HOME": home,
            "SYNC_MODE": mode,
            "ERP_SYNC_DATA_DIR": str(Path(home) / "data"),
            "SYNC_OUTBOX_DIR": str(Path(home) / "outbox"),
        }
        command = [sys.executable, "-m", "dagster", "job", "execute", "-m"]
        command += ["pipelines.definitions", "-j", "daily_sync"]
        command += ["--tags", json.dumps({"dagster/partition": DAY})]
        if executor is not None:
            config = Path(home, "run.yaml")
            config.write_text(f"execution:\n  config:\n    {executor}: {{}}\n")
            command += ["-c", str(config)]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        with dg.DagsterInstance.from_config(home) as instance:
            [record] = instance.get_run_records()
            run_id = record.dagster_run.run_id
            steps = instance.get_run_step_stats(run_id)
            pids = {
                r.event_log_entry.dagster_event.pid
                for r in instance.get_records_for_run(
                    run_id, of_type=dg.DagsterEventType.STEP_START
                ).records
            }
            result = {
                "seconds": seconds,
                "run_seconds": record.end_time - record.start_time,
                "status": record.dagster_run.status.value,
                "steps": len(steps),
                "succeeded": sum(s.status.value == "SUCCESS" for s in steps),
                "processes": len(pids),
            }
    if done.returncode != 0 or result["status"] != "SUCCESS":
        raise SystemExit(f"daily_sync ({mode}, {executor}) failed:\n{done.stdout[-3000:]}")
    return result


def measure() -> list[tuple[str, dict]]:
    from erp_sandbox import PxmCatalog, SandboxConfig, run_sandbox
    from erp_sandbox.demo import sandbox_environment

    rows = [("dry-run, default executor (in_process)", run_once("dry-run", None))]
    config = SandboxConfig()
    config.pxm.catalog = PxmCatalog.from_json_file(ROOT / "sample_data/pxm_catalog.json")
    with run_sandbox(config) as sandbox:
        live = run_once("live", None, sandbox_environment(sandbox, config))
        live["sent"] = (
            f"sandbox got {len(sandbox.master_inventory())} inventory rows, "
            f"{len(sandbox.historical_demand())} demand values, "
            f"{len(sandbox.pixee_products())} Pixee products"
        )
    rows.append(("live vs sandbox, default executor", live))
    rows.append(("dry-run, multiprocess (opt-in)", run_once("dry-run", "multiprocess")))
    return rows


def report(rows: list[tuple[str, dict]]) -> None:
    print(f"\ndaily_sync of the sample day {DAY}, `dagster job execute`, fresh SQLite instance:")
    for name, r in rows:
        print(
            f"  {name:<40} {r['seconds']:5.1f} s launch to success (run {r['run_seconds']:4.1f} s)"
            f", {r['succeeded']}/{r['steps']} steps in {r['processes']} process(es)"
        )
        if "sent" in r:
            print(f"  {'':<40} {r['sent']}")
    default = rows[0][1]["seconds"]
    verdict = "ok" if default < TARGET_S else "ABOVE TARGET"
    print(f"  target < {TARGET_S:g} s with the default executor: {default:.1f} s, {verdict}")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    report(measure())


if __name__ == "__main__":
    main()
