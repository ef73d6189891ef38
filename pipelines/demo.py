"""The README's main command: run daily_sync for the latest complete sample drop and print what
happened. `--ui` instead opens `dagster dev` on 127.0.0.1."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.core.erp.drops import complete_drops
from pipelines.defs import settings


def latest_complete_day() -> str:
    drops = complete_drops(Path(settings.ERP_EXPORT_DIR))
    if not drops:
        sys.exit(f"no complete ERP drop (with _SUCCESS) in {settings.ERP_EXPORT_DIR}")
    return drops[-1].day.isoformat()


def run_daily_sync(day: str) -> dg.ExecuteInProcessResult:
    from pipelines.definitions import defs

    with dg.DagsterInstance.get() as instance:
        job = defs.resolve_job_def("daily_sync")
        return job.execute_in_process(partition_key=day, instance=instance, raise_on_error=False)


def summarize(result: dg.ExecuteInProcessResult) -> str:
    lines = [f"daily_sync {'succeeded' if result.success else 'FAILED'} (run {result.run_id})"]
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        lines.append(
            f"  {mat.asset_key.to_user_string():<28} rows={meta.get('dagster/row_count', '-')!s:<8}"
            f" rejected={meta.get('rows_rejected', '-')!s:<5} "
            f"rejects file: {meta.get('rejects_file', '-')}"
        )
    for event in result.all_events:
        if event.is_step_failure:
            lines.append(f"  FAILED step {event.step_key}: {event.step_failure_data.error.message}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", help="business day to sync (default: latest complete drop)")
    parser.add_argument("--ui", action="store_true", help="open the Dagster UI instead")
    args = parser.parse_args()
    if "DAGSTER_HOME" not in os.environ:
        sys.exit("set DAGSTER_HOME (the Makefile does): the cadence ledger lives in the instance")
    if args.ui:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(settings.PROJECT_ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
            ],
            check=False,
        )
        return
    day = args.day or latest_complete_day()
    print(f"syncing business day {day} from {settings.ERP_EXPORT_DIR}")
    result = run_daily_sync(day)
    print(summarize(result))
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
