"""The morning schedule and the missing-drop alert look up the day's drop through the export
store: a complete drop on SFTP or S3 launches its day; a store that cannot be reached launches
nothing and says why (the URL without credentials and what to check), like a missing drop."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.automation.schedules import daily_sync_schedule
from pipelines.defs.erp.resources import ErpExportsResource, ErpExportStoreResource
from tests.e2e.helpers import write_drop
from tests.remote.helpers import export_store_fields

FRIDAY, SATURDAY_MORNING = "2026-11-20", dt.datetime(2026, 11, 21, 5, tzinfo=dt.UTC)


def morning_tick(erp: ErpExportsResource):
    from pipelines.definitions import defs

    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=SATURDAY_MORNING,
            repository_def=defs.get_repository_def(),
            resources={"erp": erp},
        ) as context,
    ):
        return daily_sync_schedule.evaluate_tick(context)


def test_a_complete_remote_drop_is_launched_and_an_incomplete_one_is_not(tmp_path: Path, locate):
    exports = tmp_path / "exports"
    write_drop(exports, FRIDAY)
    write_drop(exports, "2026-11-19")
    (exports / "2026-11-19" / "_SUCCESS").unlink()
    location = locate(exports)
    erp = ErpExportsResource(**export_store_fields(location))

    launched = morning_tick(erp)

    assert [(r.run_key, r.partition_key) for r in launched.run_requests] == [(FRIDAY, FRIDAY)]
    assert erp.drop_not_ready(dt.date(2026, 11, 19)) == (
        f"the ERP drop {location.url}/2026-11-19 has no _SUCCESS marker: it is incomplete or "
        f"still being written, so it is not read"
    )


@pytest.mark.parametrize("scheme", ["sftp", "s3"])
def test_an_unreachable_store_launches_nothing_and_says_what_to_check(scheme, unreachable):
    location = unreachable(scheme)

    started = time.monotonic()
    result = morning_tick(ErpExportsResource(**export_store_fields(location)))
    why = ErpExportStoreResource(**export_store_fields(location)).drop_not_ready(
        dt.date.fromisoformat(FRIDAY)
    )

    assert time.monotonic() - started < 60
    assert result.run_requests == []
    assert result.skip_message.startswith(
        f"not launched: cannot read the ERP export location {location.url} ("
    )
    assert why is not None and why.startswith(f"cannot read the ERP export location {location.url}")
    assert "; check " in why
    assert not [s for s in location.secrets if s in result.skip_message + why]
