"""The README's main command: start the local API sandbox, run `daily_sync` for the latest
complete sample drop against it, print what was sent, refused and decided, and stop the sandbox.
`--ui` instead opens `dagster dev` on 127.0.0.1 with the sandbox running beside it.

Settings are read from the environment when the code location loads, so the sandbox's
addresses and demo credentials are put in the environment before anything imports it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def sandbox_environment(sandbox, config) -> dict[str, str]:  # noqa: ANN001
    """The settings that point the pipeline at the sandbox, with the sandbox's own demo
    credentials (they open nothing but the local sandbox)."""
    return {
        "PAQTANA_BASE_URL": sandbox.paqtana_url,
        "PAQTANA_TOKEN": config.paqtana.token,
        "PAQTANA_ORG": config.paqtana.org,
        "PIXEE_BASE_URL": sandbox.pixee_url,
        "PIXEE_API_KEY": next(iter(config.pixee.api_keys)),
        "PXM_BASE_URL": sandbox.pxm_url,
        "PXM_CLIENT_ID": config.pxm.client_id,
        "PXM_CLIENT_SECRET": config.pxm.client_secret,
    }


def latest_complete_day() -> str:
    """The newest complete drop, looked up through the `erp` resource of the definitions: the
    same export store (and credentials) the run reads."""
    import dagster as dg

    from pipelines.core.erp.drops import complete_drops
    from pipelines.core.erp.export_store import ExportStoreError
    from pipelines.definitions import defs

    try:
        with (
            dg.build_resources({"erp": defs.resources["erp"]}) as resources,
            resources.erp.export_store() as store,
        ):
            drops, where = complete_drops(store), store.location
    except ExportStoreError as exc:
        sys.exit(str(exc))
    if not drops:
        sys.exit(f"no complete ERP drop (with _SUCCESS) in {where}")
    return drops[-1].day.isoformat()


def run_daily_sync(day: str):  # noqa: ANN201 - dg.ExecutionResult
    """The code location's own daily_sync, its steps in this process, recorded as a run of the
    `pipelines.definitions` location: the UI offers to re-execute it without "may be a different
    version" (`execute_in_process` swaps the executor, so the snapshot; a run without the
    location's origin reads "loaded from a different code location")."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    module, job = "pipelines.definitions", "daily_sync"
    repository = ReconstructableRepository.for_module(
        module, "defs", working_directory=str(PROJECT_ROOT)
    )
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=module, working_directory=str(PROJECT_ROOT)
    )
    # the location as workspace.yaml names it
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name=module)
    reconstructable = repository.get_reconstructable_job(job)
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            reconstructable.get_definition(),
            run_config={"execution": {"config": {"in_process": {}}}},
            tags={"dagster/partition": day},
            remote_job_origin=RemoteJobOrigin(
                RemoteRepositoryOrigin(location, "__repository__"), job
            ),
            job_code_origin=reconstructable.get_python_origin(),
        )
        return execute_run(reconstructable, run, instance, raise_on_error=False)


def summarize(result, sandbox) -> str:  # noqa: ANN001
    lines = [f"daily_sync {'succeeded' if result.success else 'FAILED'} (run {result.run_id})", ""]
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        name = mat.asset_key.to_user_string()
        parts = [f"rows={meta['dagster/row_count']}"] if "dagster/row_count" in meta else []
        for key in ("rows_rejected", "failed", "requests_sent", "to_send", "chunks"):
            if key in meta:
                parts.append(f"{key}={meta[key]}")
        lines.append(f"  {name:<26} {' '.join(parts)}")
        if "cadence" in meta:
            lines.append(f"  {'':<26} cadence: {meta['cadence']}")
        if meta.get("rows_rejected") or meta.get("failed"):
            lines.append(f"  {'':<26} rejects: {meta.get('rejects_file')}")
    for event in result.all_events:
        if event.is_step_failure:
            lines.append(f"  FAILED {event.step_key}: {event.step_failure_data.error.message}")
    posts = sandbox.demand_posts()
    lines += [
        "",
        "the sandbox received:",
        f"  Paqtana master inventory rows: {len(sandbox.master_inventory())}",
        f"  Paqtana demand values: {len(sandbox.historical_demand())} in {len(posts)} POST(s), "
        f"auto_calculate on: {[i + 1 for i, p in enumerate(posts) if p['auto_calculate']]}",
        f"  Pixee products: {len(sandbox.pixee_products())}",
        f"  PXM reads: {len(sandbox.pxm_reads())}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", help="business day to sync (default: latest complete drop)")
    parser.add_argument("--ui", action="store_true", help="open the Dagster UI instead")
    args = parser.parse_args()
    if "DAGSTER_HOME" not in os.environ:
        sys.exit("set DAGSTER_HOME (the Makefile does): the cadence ledger lives in the instance")
    from erp_sandbox import PxmCatalog, SandboxConfig, run_sandbox

    data_dir = PROJECT_ROOT / ".erp_sync"
    data_dir.mkdir(exist_ok=True)
    config = SandboxConfig(storage=str(data_dir / "sandbox.db"))
    config.pxm.catalog = PxmCatalog.from_json_file(PROJECT_ROOT / "sample_data/pxm_catalog.json")
    with run_sandbox(config) as sandbox:
        os.environ.update(sandbox_environment(sandbox, config))
        print(f"API sandbox on {sandbox.url} (state in {config.storage})")
        if args.ui:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "dev",
                    "-w",
                    str(PROJECT_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                ],
                check=False,
            )
            return
        day = args.day or latest_complete_day()
        print(f"syncing business day {day}")
        result = run_daily_sync(day)
        print(summarize(result, sandbox))
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
