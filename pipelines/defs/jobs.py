"""Jobs a person or the automation launches."""

import dagster as dg
from dagster_celery import celery_executor

from pipelines.defs.launch_check import checked
from pipelines.defs.loads import FRESHNESS_CHECK, LOAD_ASSETS

# Every asset and its checks, but the freshness checks: their sensor judges them after the
# deadline; judged inside a sync run they would speak of the wrong morning.
SYNC_SELECTION = dg.AssetSelection.all() - dg.AssetSelection.checks(
    *(dg.AssetCheckKey(dg.AssetKey(asset), FRESHNESS_CHECK) for asset in LOAD_ASSETS)
)

# Dagster's default executor (`multiprocess` or `in_process`, chosen in run config) with
# `in_process` as the default: the daily run's steps are I/O-bound and small, and a process per
# step cost about 2 s of start-up and imports each (the sample day: ~20 s from launch to success
# with nine step processes, ~5 s in one). Every step still shows in the UI with its own events,
# logs and retries. A deployment that wants a process per step (or a step killed without its
# run) says so: `execution: {config: {multiprocess: {}}}`; or runs `daily_sync_celery`.
_default = dg.multi_or_in_process_executor
step_executor = checked(
    dg.ExecutorDefinition(
        name=_default.name,
        config_schema=dg.Field(
            _default.config_schema.config_type, default_value={"in_process": {}}
        ),
        requirements=_default.get_requirements,
        executor_creation_fn=_default.executor_creation_fn,
        description="multiprocess or in_process (the default), as in run config",
    )
)

daily_sync = dg.define_asset_job(
    "daily_sync",
    selection=SYNC_SELECTION,
    executor_def=step_executor,
    description="Everything from the ERP drop to the vendor loads for one business day.\n\n"
    "Re-run one day safely: a day already sent is skipped by the cadence guard. To send it again "
    "(say the ERP re-exported it), launch the day's partition from the Launchpad with a reason; "
    "the ledger records the run as `forced` with that reason, and each load's `cadence` "
    "metadata reads `sent: forced: <reason>`:\n\n"
    "```yaml\n"
    "resources:\n"
    "  cadence:\n"
    "    config:\n"
    "      force: true\n"
    '      reason: "ERP re-exported the day after a price fix"\n'
    "```",
)

# Both assets run a whole partition range in ONE run (BackfillPolicy.single_run), so a year of
# history launched from the UI's backfill dialog is one run sending size-capped requests.
demand_backfill = dg.define_asset_job(
    "demand_backfill",
    selection=dg.AssetSelection.assets("erp_demand", "paqtana_historical_demand"),
    # in_process too: a year of 20,000 series took 21 s from launch to exit against 39 s with a
    # process per step, at about the same peak (620 MB against 580 MB; bench/backfill.py)
    executor_def=step_executor,
    description="Initial load of historical demand over a range of days, as one run (the "
    "vendor's documented exception to the one-send-a-day rule; the same range twice a day is "
    "refused).",
)


# daily_sync with every step sent to Celery workers on other machines (deploy/README.md). The
# run config names the broker: `execution: {config: {broker: "pyamqp://..."}}`.
daily_sync_celery = dg.define_asset_job(
    "daily_sync_celery",
    selection=SYNC_SELECTION,
    executor_def=checked(celery_executor),
    description="daily_sync with each step run by a Celery worker (a shared "
    "ERP_SYNC_DATA_DIR and the Postgres instance are required).",
)
