"""The README's main command: start the local API sandbox, run `daily_sync` for the latest
complete sample drop against it, print a screenful of what was sent, refused and decided (from the
run's daily sync report; Dagster's own log goes to a file), and stop the sandbox.
`--ui` instead opens `dagster dev` on 127.0.0.1 with the sandbox running beside it.

Settings are read from the environment when the code location loads, so the sandbox's
addresses and demo credentials are put in the environment before anything imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

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


def use_dated_sample(data_dir: Path) -> str:
    """Point the demo at the sample dated to end yesterday (`SYNC_NOW`'s day if set), with the
    partitions starting at its first drop, unless ERP_EXPORT_DIR names exports of one's own:
    the committed sample's November days are past the drop sensor's lookback and 700 empty
    partitions before them say nothing. Set before anything reads the settings. Returns where
    the exports are, in words."""
    if os.environ.get("ERP_EXPORT_DIR"):
        return f"the ERP exports in {os.environ['ERP_EXPORT_DIR']}"
    from erp_sandbox.samples.erp_exports import dated_sample

    now = os.environ.get("SYNC_NOW")
    zone = ZoneInfo(os.environ.get("SYNC_TIMEZONE") or "UTC")
    today = dt.datetime.fromisoformat(now).date() if now else dt.datetime.now(zone).date()
    last = today - dt.timedelta(days=1)
    exports = data_dir / "demo_exports"
    first = dated_sample(exports, last)
    os.environ["ERP_EXPORT_DIR"] = str(exports)
    os.environ.setdefault("SYNC_PARTITIONS_START", first.isoformat())
    return f"the sample drops {first}..{last} in {_shown(exports)} ({today}'s still being written)"


def run_ui() -> int:
    """`dagster dev` in a session of its own, stopped by one SIGINT to it (its own clean
    shutdown of the webserver and the daemon) whatever stops us: Ctrl-C, a TERM to `make` (make
    passes it on) or a hang-up; and sent a TERM by the kernel if we die without a word. What is
    left of its session afterwards (a run in flight) is ended too, then our exit stops the
    sandbox thread."""
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
    ui = subprocess.Popen(
        [*command, "-h", "127.0.0.1"], start_new_session=True, preexec_fn=_ui_child_signals
    )
    asked: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        if not asked:
            print(f"\nstopping dagster dev and the sandbox ({signal.Signals(signum).name})")
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(ui.pid, signal.SIGINT)
        asked.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    try:
        code = ui.wait()
    finally:
        _end_session(ui.pid)
    print("dagster dev and the sandbox stopped", flush=True)
    return 0 if asked or code == 0 else code


def _ui_child_signals() -> None:
    """In the child before exec: SIGINT and SIGTERM as Python expects them (a shell starting us
    in the background ignores SIGINT, and dagster dev would inherit that), and, on Linux, a
    SIGTERM from the kernel when this process dies, even by SIGKILL."""
    import ctypes

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _end_session(pgid: int, grace_s: float = 10.0) -> None:
    """TERM whatever still runs in the UI's process group, then KILL after `grace_s`."""
    import time

    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


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


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Everything this process (and the sandbox's threads) writes to stdout and stderr goes to
    `log` for the block: Dagster's event log at DEBUG, warnings, the sandbox's access log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run_daily_sync(day: str, log: Path | None = None):  # noqa: ANN201 - dg.ExecutionResult
    """The code location's own daily_sync, its steps in this process and its whole log in
    `log` (on this process's output without one), recorded as a run of the
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
    quiet = output_to(log) if log else contextlib.nullcontext()
    with quiet, dg.DagsterInstance.get() as instance:
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


def _shown(path: Path | str) -> str:
    """A path as a person types it from the project folder."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def received(sandbox, since: float) -> str:  # noqa: ANN001
    """The requests each imitated API logged since `since`, by method: what it really received."""
    parts = []
    for vendor, title in (("paqtana", "Paqtana"), ("pixee", "Pixee"), ("pxm", "PXM")):
        methods = Counter(r["method"] for r in sandbox.requests(vendor) if r["unix_time"] >= since)
        counts = ", ".join(f"{n} {m}" for m, n in sorted(methods.items())) or "nothing"
        parts.append(f"{title} {counts}")
    return "; ".join(parts)


def summarize(result, sandbox, day: str, log: Path, since: float) -> str:  # noqa: ANN001
    """A screenful from the run's daily sync report, and where the report and the log are."""
    import dagster as dg

    from pipelines.core.sync_report import build_report, summary
    from pipelines.definitions import defs
    from pipelines.defs.report import REPORT_ASSET, run_figures, step_assets

    job = defs.resolve_job_def("daily_sync")
    with dg.DagsterInstance.get() as instance:
        figures = run_figures(instance, result.run_id, day, step_assets(job))
    lines = summary(build_report(figures), base=Path.cwd())
    if not result.success:  # a failed step the report does not tell (the report's own)
        lines[0] = lines[0].replace(" succeeded ", " FAILED ")
    lines.append(f"the sandbox received in this run: {received(sandbox, since)}")
    posts = sandbox.demand_posts()
    lines.append(
        f"  it now holds {len(sandbox.master_inventory())} inventory rows, "
        f"{len(sandbox.historical_demand())} demand values ({len(posts)} POST(s) in all), "
        f"{len(sandbox.pixee_products())} Pixee products"
    )
    reports = [
        e.step_materialization_data.materialization.metadata["report_file"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(REPORT_ASSET)
    ]
    lines.append(f"report: {_shown(reports[0])}" if reports else "report: not written")
    lines.append(f"full Dagster log: {_shown(log)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", help="business day to sync (default: latest complete drop)")
    parser.add_argument("--ui", action="store_true", help="open the Dagster UI instead")
    args = parser.parse_args()
    if "DAGSTER_HOME" not in os.environ:
        sys.exit("set DAGSTER_HOME (the Makefile does): the cadence ledger lives in the instance")
    from erp_sandbox import PxmCatalog, SandboxConfig, run_sandbox

    # the pipeline's data folder, as settings.py reads it: the report, the log and the sandbox in it
    data_dir = Path(PROJECT_ROOT, os.environ.get("ERP_SYNC_DATA_DIR") or ".erp_sync")
    data_dir.mkdir(parents=True, exist_ok=True)
    exports = use_dated_sample(data_dir)
    config = SandboxConfig(storage=str(data_dir / "sandbox.db"))
    config.pxm.catalog = PxmCatalog.from_json_file(PROJECT_ROOT / "sample_data/pxm_catalog.json")
    with run_sandbox(config) as sandbox:
        os.environ.update(sandbox_environment(sandbox, config))
        print(f"API sandbox on {sandbox.url} (state in {config.storage})")
        if args.ui:
            print(f"exports: {exports}")
            sys.exit(run_ui())  # leaving the block stops the sandbox
        day = args.day or latest_complete_day()
        started = time.time()
        log = data_dir / "logs" / f"demo-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.log"
        print(f"syncing business day {day} of {exports}; Dagster's log: {_shown(log)}")
        result = run_daily_sync(day, log)
        print(summarize(result, sandbox, day, log, started))
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
