"""End-to-end fixtures: the sandbox on 127.0.0.1, resources pointing at it, a temp instance."""

from __future__ import annotations

import dagster as dg
import pytest
import stamina

from erp_sandbox import PxmCatalog, SandboxConfig, run_sandbox
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.event_log_storage import BATCH_SIZE, instance_yaml_section
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.staging import StagingResource
from pipelines.defs.state_db import StateDatabaseResource
from pipelines.defs.sync_mode import SyncModeResource
from tests.conftest import CANONICAL_MAPPING, LOCATIONS, ROOT, SAMPLE_EXPORTS

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
def local_instance(tmp_path, monkeypatch):
    """An instance with the local instance's event log (the Makefile's dagster.yaml names it):
    the batched SQLite storage, which writes a range run's per-day events in batches."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", BATCH_SIZE)
    home = tmp_path / "local_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n" + instance_yaml_section(home / "history" / "runs")
    )
    with dg.DagsterInstance.from_config(str(home)) as inst:
        yield inst


def base_resources(tmp_path) -> dict:
    """Resources that do not depend on the sandbox."""
    return {
        "erp": ErpExportsResource(
            export_dir=str(SAMPLE_EXPORTS),
            mapping_file=str(CANONICAL_MAPPING),
            locations_file=str(LOCATIONS),
        ),
        "staging": StagingResource(data_dir=str(tmp_path / "data")),
        "state_db": StateDatabaseResource(),
        "cadence": CadenceGuardResource(),
        "sync_mode": SyncModeResource(mode="live", outbox_dir=str(tmp_path / "outbox")),
    }


def sandbox_resources(sandbox) -> dict:  # noqa: ANN001
    """Vendor resources pointing at a running sandbox with its demo credentials."""
    return {
        "paqtana": PaqtanaResource(
            base_url=sandbox.paqtana_url, token="sandbox-paqtana-token", org="demo-org"
        ),
        "pixee": PixeeResource(base_url=sandbox.pixee_url, api_key="pm_test_sandbox"),
        "pxm": PxmResource(
            base_url=sandbox.pxm_url,
            client_id="sandbox-pxm-client",
            client_secret="sandbox-pxm-secret",
        ),
    }


@pytest.fixture
def resources(tmp_path, sandbox):
    return base_resources(tmp_path) | sandbox_resources(sandbox)


def erp_resource(exports) -> ErpExportsResource:  # noqa: ANN001
    return ErpExportsResource(
        export_dir=str(exports), mapping_file=str(CANONICAL_MAPPING), locations_file=str(LOCATIONS)
    )


@pytest.fixture
def exports(tmp_path):
    """The test's own ERP export folder: drops are written into it day by day."""
    return tmp_path / "exports"


@pytest.fixture
def res(resources, exports):
    """The sandbox's resources, reading the ERP drops from `exports`."""
    return resources | {"erp": erp_resource(exports)}


@pytest.fixture
def pxm_sandbox():
    """A sandbox whose PXM holds the sample catalog (150 of the sample ERP's products)."""
    config = SandboxConfig()
    config.pxm.catalog = PxmCatalog.from_json_file(ROOT / "sample_data/pxm_catalog.json")
    with run_sandbox(config) as box:
        yield box
