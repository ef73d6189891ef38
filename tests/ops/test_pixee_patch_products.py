"""The Pixee correction job against the local sandbox: one request per EAN, a 404 is that row's
error, every outcome in the results file, and the run fails at the end when a row failed."""

from __future__ import annotations

import csv
from pathlib import Path

import dagster as dg
import pytest
import yaml

from erp_sandbox import PixeeConfig, SandboxConfig, run_sandbox
from pipelines.core.pixee.client import PixeeClient
from pipelines.defs.ops.pixee_patch_products import LAUNCHPAD_EXAMPLE, OP_NAME, pixee_patch_products
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.sync_mode import SyncModeResource
from tests.e2e.conftest import base_resources
from tests.e2e.helpers import ean

A, B, UNKNOWN = ean(1), ean(2), ean(99)


@pytest.fixture
def catalog(sandbox):
    with PixeeClient(sandbox.pixee_url, "pm_test_sandbox") as client:
        client.batch_upsert(
            [
                {
                    "ean": A,
                    "name": "Alpha",
                    "brand_name": "KIMEX",
                    "weight": 1.0,
                    "status": "active",
                },
                {
                    "ean": B,
                    "name": "Beta",
                    "brand_name": "KIMEX",
                    "weight": 2.0,
                    "status": "active",
                },
            ]
        )
    return sandbox


def run_corrections(tmp_path, instance, pixee, text, method="PATCH", sync_mode=None, **more):
    path = tmp_path / "fix.csv"
    path.write_text(text)
    resources = base_resources(tmp_path) | {"pixee": pixee}
    if sync_mode is not None:
        resources["sync_mode"] = sync_mode
    defs = dg.Definitions(jobs=[pixee_patch_products], resources=resources)
    op_config = {"corrections_file": str(path), "method": method, **more}
    config = {"ops": {OP_NAME: {"config": op_config}}}
    return defs.resolve_job_def("pixee_patch_products").execute_in_process(
        run_config=config, instance=instance, raise_on_error=False
    )


def results_file(tmp_path, result) -> list[dict]:  # noqa: ANN001
    path = tmp_path / "data" / "corrections" / f"{result.run_id}.csv"
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def failure(result) -> dg.Failure:  # noqa: ANN001
    event = next(e for e in result.all_events if e.is_step_failure)
    return event.step_failure_data


def product(sandbox, code: str) -> dict:
    return next(p for p in sandbox.pixee_products() if p["ean"] == code)


def sandbox_pixee(sandbox) -> PixeeResource:
    return PixeeResource(base_url=sandbox.pixee_url, api_key="pm_test_sandbox")


def test_patch_changes_only_the_given_fields_and_an_unknown_ean_fails_only_its_row(
    tmp_path,
    instance,
    catalog,
):
    result = run_corrections(
        tmp_path,
        instance,
        sandbox_pixee(catalog),
        f"ean,status,weight\n{A},inactive,1.6\n{UNKNOWN},,3\nnot-an-ean,active,\n{B},archived,\n",
    )

    assert not result.success
    rows = results_file(tmp_path, result)
    assert [(r["ean"], r["status"]) for r in rows] == [
        (A, "updated"),
        (UNKNOWN, "not_found"),
        ("not-an-ean", "invalid"),
        (B, "updated"),
    ]
    assert rows[0]["message"].startswith("updated_at ")
    assert rows[1]["message"] == (
        f"EAN {UNKNOWN} not found in Pixee: no product with EAN {UNKNOWN} in Pixee "
        f"(Produit avec EAN '{UNKNOWN}' introuvable.)"
    )
    assert rows[2]["message"] == "line 4: not a valid EAN-8/EAN-13: 'not-an-ean'"
    # What crossed the wire: the scope check, then one PATCH per valid row, in file order.
    wire = [(r["method"], r["path"], r["status"]) for r in catalog.requests("pixee")]
    assert wire[-4:] == [
        ("GET", "/api/v1/ext/status", 200),
        ("PATCH", f"/api/v1/ext/products/{A}", 200),
        ("PATCH", f"/api/v1/ext/products/{UNKNOWN}", 404),
        ("PATCH", f"/api/v1/ext/products/{B}", 200),
    ]
    alpha = product(catalog, A)
    assert (alpha["name"], alpha["brand_name"], alpha["status"], alpha["weight"]) == (
        "Alpha",
        "KIMEX",
        "inactive",
        1.6,
    )
    assert alpha["is_active"] is False
    assert (product(catalog, B)["status"], product(catalog, B)["weight"]) == ("archived", 2.0)
    description = failure(result).user_failure_data.description
    assert description.startswith("2 of 4 correction(s) failed (updated=2, not_found=1, invalid=1)")
    assert description.endswith(f"{result.run_id}.csv")


def test_put_without_confirm_put_is_refused_before_any_request(tmp_path, instance, catalog):
    before = len(catalog.requests("pixee"))
    result = run_corrections(
        tmp_path, instance, sandbox_pixee(catalog), f"ean,name\n{A},Alpha renamed\n", method="PUT"
    )

    assert not result.success
    assert len(catalog.requests("pixee")) == before  # not even the scope check
    description = failure(result).user_failure_data.description
    assert description.startswith(
        "method: PUT replaces the whole product: every field not in the file becomes null in "
        "Pixee (brand_name, description, short_description, "
    )
    assert "Nothing was sent" in description and "add confirm_put: true" in description
    assert product(catalog, A)["brand_name"] == "KIMEX"


def test_put_replaces_the_product_so_fields_left_out_become_null(tmp_path, instance, catalog):
    result = run_corrections(
        tmp_path,
        instance,
        sandbox_pixee(catalog),
        f"ean,name\n{A},Alpha renamed\n",
        method="PUT",
        confirm_put=True,
    )

    assert result.success
    assert [(r["ean"], r["status"]) for r in results_file(tmp_path, result)] == [(A, "updated")]
    alpha = product(catalog, A)
    assert (alpha["name"], alpha["brand_name"], alpha["weight"]) == ("Alpha renamed", None, None)
    assert product(catalog, B)["brand_name"] == "KIMEX"
    output = result.get_step_success_events()[0]
    assert output.step_key == OP_NAME
    meta = {
        k: v.value
        for e in result.all_events
        if e.is_successful_output
        for k, v in e.event_specific_data.metadata.items()
    }
    assert (meta["method"], meta["rows"], meta["failed"], meta["requests_sent"]) == ("PUT", 1, 0, 2)
    assert meta["by_status"]["updated"] == 1


def test_a_key_without_write_scope_stops_before_any_write(tmp_path, instance):
    config = SandboxConfig(
        pixee=PixeeConfig(api_keys={"pm_test_readonly": ["ext:products:read"]}, api_key_names={})
    )
    with run_sandbox(config) as box:
        pixee = PixeeResource(base_url=box.pixee_url, api_key="pm_test_readonly")
        result = run_corrections(tmp_path, instance, pixee, f"ean,status\n{A},inactive\n")
        wire = [(r["method"], r["path"]) for r in box.requests("pixee")]

    assert not result.success
    assert wire == [("GET", "/api/v1/ext/status")]
    [row] = results_file(tmp_path, result)
    assert (row["ean"], row["status"]) == (A, "not_sent")
    assert "lacks scope ext:products:write" in row["message"]
    description = failure(result).user_failure_data.description
    assert description.startswith(
        "stopped: Pixee API key 'pm_test_' lacks scope ext:products:write"
    )


def test_a_vendor_that_stays_down_stops_the_run_and_names_what_was_not_sent(
    tmp_path,
    instance,
    catalog,
):
    catalog.add_fault(kind="status", vendor="pixee", method="PATCH", path=B, status=503, times=20)
    result = run_corrections(
        tmp_path,
        instance,
        sandbox_pixee(catalog),
        f"ean,status\n{A},inactive\n{B},inactive\n{UNKNOWN},inactive\n",
    )

    assert not result.success
    rows = results_file(tmp_path, result)
    assert [(r["ean"], r["status"]) for r in rows] == [
        (A, "updated"),
        (B, "error"),
        (UNKNOWN, "not_sent"),
    ]
    assert "HTTP 503" in rows[1]["message"]
    patches = [r["path"] for r in catalog.requests("pixee") if r["method"] == "PATCH"]
    assert UNKNOWN not in "".join(patches)
    assert product(catalog, A)["status"] == "inactive"
    assert product(catalog, B)["status"] == "active"


def test_dry_run_writes_the_requests_to_the_outbox_and_calls_nobody(tmp_path, instance):
    outbox = tmp_path / "outbox"
    result = run_corrections(
        tmp_path,
        instance,
        PixeeResource(base_url="http://127.0.0.1:9/api/v1/ext", api_key=None),
        f"ean,weight\n{A},1.5\n",
        sync_mode=SyncModeResource(mode="dry-run", outbox_dir=str(outbox)),
    )

    assert result.success
    assert [(r["ean"], r["status"]) for r in results_file(tmp_path, result)] == [(A, "dry_run")]
    written = sorted(p.name for p in (outbox / result.run_id / "pixee").iterdir())
    assert written, "the PATCH must be in the outbox"
    assert any(A in Path(outbox / result.run_id / "pixee" / n).read_text() for n in written)


def test_the_launchpad_example_in_the_job_description_is_valid_run_config():
    assert LAUNCHPAD_EXAMPLE in pixee_patch_products.description
    config = yaml.safe_load(LAUNCHPAD_EXAMPLE)
    assert config["ops"][OP_NAME]["config"]["method"] == "PATCH"
    from pipelines.definitions import defs

    dg.validate_run_config(defs.resolve_job_def("pixee_patch_products"), config)
