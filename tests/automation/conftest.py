"""The code location as the lead will wire it: existing definitions plus the automation lists."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.defs.automation import ASSET_CHECKS, SCHEDULES, SENSORS


@pytest.fixture(scope="session")
def automation_defs() -> dg.Definitions:
    from pipelines.definitions import defs as base

    return dg.Definitions.merge(
        base, dg.Definitions(schedules=SCHEDULES, sensors=SENSORS, asset_checks=ASSET_CHECKS)
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance
