"""`pixee_patch_products`: a person's explicit corrections to Pixee products, one request per EAN.

Not an asset and not partitioned: it changes products in Pixee by hand, outside the daily sync,
so it materializes nothing and does not ask the cadence guard (the vendor's once-a-day rule is
about the sync; corrections are rare, named writes). Pixee's per-key rate limits still hold: the
client paces every request, and the op shares the `pixee` pool with the sync assets.

The ERP stays the source of truth: every product Pixee took a correction for is requeued, so the
next daily send sends its ERP-owned fields again (the fields the ERP leaves empty keep the
correction). A PUT, which nulls every field it does not name, needs `confirm_put: true`.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from pipelines.core.outbox import pixee_responder
from pipelines.core.pixee.corrections import (
    CorrectionsFileError,
    CorrectionsStopped,
    Method,
    PutNotConfirmedError,
    Result,
    corrected_eans,
    read_corrections,
    require_put_confirmed,
    send_corrections,
    summary,
    write_results,
)
from pipelines.core.pixee.synced_state import SyncedProducts
from pipelines.defs import settings
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource

VENDOR = "pixee"
OP_NAME = "send_pixee_corrections"
# Shown in the job's description; a test checks that it is valid run config for the job.
LAUNCHPAD_EXAMPLE = f"""\
ops:
  {OP_NAME}:
    config:
      corrections_file: corrections/fix-2026-11-21.csv
      method: PATCH
"""
FAILURES_SHOWN = 25


class PixeeCorrectionsConfig(dg.Config):
    corrections_file: str = Field(
        description="CSV with an `ean` column and one column per Pixee field to set (name, "
        "brand_name, status, weight, is_active, ...). Absolute, or relative to the project "
        "folder. An empty cell is left out of the request."
    )
    method: Method = Field(
        default=Method.PATCH,
        description="PATCH changes only the fields given; PUT replaces every writable field, so "
        "fields not in the file become null in Pixee (needs confirm_put).",
    )
    confirm_put: bool = Field(
        default=False,
        description="Required with method: PUT: yes, null every field the file does not name.",
    )


def corrections_path(config: PixeeCorrectionsConfig) -> Path:
    path = Path(config.corrections_file).expanduser()
    return path if path.is_absolute() else settings.PROJECT_ROOT / path


def _failures_table(results: list[Result]) -> dg.MetadataValue:
    failed = [r for r in results if not r.ok]
    rows = ["| ean | status | message |", "|---|---|---|"]
    rows += [
        f"| {r.ean} | {r.status.value} | {r.message.replace('|', '/')} |"
        for r in failed[:FAILURES_SHOWN]
    ]
    if len(failed) > FAILURES_SHOWN:
        rows.append(f"| ... | {len(failed) - FAILURES_SHOWN} more in the results file | |")
    return dg.MetadataValue.md("\n".join(rows))


@dg.op(
    name=OP_NAME,
    pool="pixee",
    out=dg.Out(dg.Nothing),
    description="Sends one PATCH (or PUT, with confirm_put) `/ext/products/{ean}` per row of "
    "the corrections file, writes each EAN's outcome to `<data_dir>/corrections/<run_id>.csv` "
    "and requeues the corrected products for the next daily send.",
)
def send_pixee_corrections(
    context: dg.OpExecutionContext,
    config: PixeeCorrectionsConfig,
    pixee: PixeeResource,
    staging: StagingResource,
    state_db: StateDatabaseResource,
    sync_mode: SyncModeResource,
):  # noqa: ANN201 - a generator of Output
    source = corrections_path(config)
    try:
        corrections = read_corrections(source)
        require_put_confirmed(config.method, config.confirm_put, corrections.fields)
    except (CorrectionsFileError, PutNotConfirmedError) as exc:
        raise dg.Failure(description=str(exc)) from None
    run_id = context.run.run_id
    context.log.info(
        f"{len(corrections.corrections)} correction(s) to {config.method.value} from {source} "
        f"(fields: {', '.join(corrections.fields)}; "
        f"{len(corrections.rows) - len(corrections.corrections)} row(s) refused before sending)"
    )

    def log_result(n: int, result: Result) -> None:
        if not result.ok:
            context.log.warning(f"{result.ean}: {result.status.value}: {result.message}")
        if n % 100 == 0:
            context.log.info(f"{n}/{len(corrections.rows)} rows done")

    stopped: str | None = None
    transport = sync_mode.transport(run_id, VENDOR, pixee_responder)
    with pixee.client(transport) as client:
        try:
            results = send_corrections(
                client, corrections, config.method, dry_run=sync_mode.dry_run, on_result=log_result
            )
        except CorrectionsStopped as exc:
            results, stopped = exc.results, exc.reason
        requests_sent = len(client.stats.requests)
    path = write_results(staging.corrections_path(run_id), results)
    corrected = corrected_eans(results)  # none in dry-run: Pixee was not called
    requeued = SyncedProducts(state_db.engine).requeue(
        corrected, f"corrected by pixee_patch_products run {run_id} ({config.method.value})"
    )
    counts = summary(results)
    failed = sum(1 for r in results if not r.ok)
    metadata = {
        "results_file": dg.MetadataValue.path(str(path)),
        "corrections_file": dg.MetadataValue.path(str(source)),
        "method": config.method.value,
        "mode": sync_mode.mode,
        "rows": len(results),
        "failed": failed,
        "by_status": dg.MetadataValue.json(counts),
        "requests_sent": requests_sent,
        # their ERP-owned fields go out again with the next daily send
        "requeued_for_next_send": requeued,
    }
    if failed or stopped:
        head = f"stopped: {stopped}. " if stopped else ""
        raise dg.Failure(
            description=f"{head}{failed} of {len(results)} correction(s) failed "
            f"({', '.join(f'{k}={v}' for k, v in counts.items() if v)}); see {path}",
            metadata=metadata | {"failures": _failures_table(results)},
        )
    context.log.info(f"all {len(results)} correction(s) accepted; results in {path}")
    yield dg.Output(None, metadata=metadata)


@dg.job(
    name="pixee_patch_products",
    tags={"erp_sync/kind": "manual_correction"},
    description="Manual corrections to products in Pixee: one `PATCH` (default) or `PUT` "
    "`/ext/products/{ean}` per row of a CSV (`ean` column + the fields to change), paced under "
    "Pixee's rate limits. `PUT` replaces the whole product (every field the file does not name "
    "becomes null) and is refused before any request unless `confirm_put: true`. Each EAN's "
    "outcome (updated, not_found, refused, invalid, error, not_sent; dry_run in dry-run mode) "
    "goes to `<data_dir>/corrections/<run_id>.csv`; an EAN Pixee does not have is that row's "
    "error, not the run's; the run fails at the end if any row failed. The ERP stays the source "
    "of truth: the next daily send sends the corrected products' ERP fields again. Launchpad:"
    "\n\n"
    "```yaml\n" + LAUNCHPAD_EXAMPLE + "```",
)
def pixee_patch_products() -> None:
    send_pixee_corrections()
