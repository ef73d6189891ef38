"""End-to-end fixtures: the sandbox on 127.0.0.1, resources pointing at it, a temp instance."""

from __future__ import annotations

import dagster as dg
import pytest
import stamina

from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.sync_mode import SyncModeResource
from pipelines.sandbox import run_sandbox
from tests.conftest import CANONICAL_MAPPING, LOCATIONS, SAMPLE_EXPORTS

DAY = "2026-11-21"


@pytest.fixture(autouse=True)
def no_retry_sleeps():
    stamina.set_testing(True, attempts=6)
    yield
    stamina.set_testing(False)


@pytest.fixture
def sandbox():
    with run_sandbox() as box:
        yield box


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def resources(tmp_path, sandbox):
    return {
        "erp": ErpExportsResource(
            export_dir=str(SAMPLE_EXPORTS),
            mapping_file=str(CANONICAL_MAPPING),
            locations_file=str(LOCATIONS),
            data_dir=str(tmp_path / "data"),
        ),
        "cadence": CadenceGuardResource(),
        "sync_mode": SyncModeResource(mode="live", outbox_dir=str(tmp_path / "outbox")),
        "paqtana": PaqtanaResource(
            base_url=sandbox.paqtana_url, token="sandbox-paqtana-token", org="demo-org"
        ),
    }
