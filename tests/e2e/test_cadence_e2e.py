"""The cadence guard in real runs: resume after a crash, force with a reason, backfill as one run,
and runs started together on two calendar days (two of Saturday; then Sunday's with a re-run of
Saturday): one send per endpoint a day, and the vendors end with the newest drop."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import dagster as dg

from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.launch_check import config_problems
from pipelines.defs.paqtana.resources import PaqtanaResource
from tests.conftest import ROOT, SAMPLE_EXPORTS
from tests.e2e.helpers import DEMAND_ONLY, PAQTANA_CHAIN, materialize, meta
from tests.reliability.job_process import daily_sync_command

DAY = "2026-11-21"  # a Saturday; the sample also has Sunday's drop, without its _SUCCESS
SUNDAY = "2026-11-22"
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2026-09-23",
    "dagster/asset_partition_range_end": "2026-11-21",
}


def small_chunks(resources, sandbox, cap=70_000):
    return resources | {
        "paqtana": PaqtanaResource(
            base_url=sandbox.paqtana_url,
            token="sandbox-paqtana-token",
            org="demo-org",
            max_body_bytes=cap,
        )
    }


def test_crash_after_two_of_five_chunks_resumes_with_the_rest(
    resources, instance, sandbox, monkeypatch
):
    res = small_chunks(resources, sandbox)
    real_post = PaqtanaClient.post_historical_demand
    calls = {"n": 0}

    def crashing_post(self, body, *, auto_calculate):  # noqa: ANN001
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash after two chunks")
        return real_post(self, body, auto_calculate=auto_calculate)

    monkeypatch.setattr(PaqtanaClient, "post_historical_demand", crashing_post)
    first = dg.materialize(
        **DEMAND_ONLY, instance=instance, resources=res, tags=RANGE_TAGS, raise_on_error=False
    )
    assert not first.success
    assert [p["auto_calculate"] for p in sandbox.demand_posts()] == [False, False]
    monkeypatch.setattr(PaqtanaClient, "post_historical_demand", real_post)

    second = dg.materialize(**DEMAND_ONLY, instance=instance, resources=res, tags=RANGE_TAGS)
    m = meta(second, "paqtana_historical_demand")
    n = m["chunks"]
    assert n >= 5, "the fixture must produce at least five chunks at this cap"
    assert (m["chunks_sent"], m["chunks_already_accepted"]) == (n - 2, 2)
    assert [p["auto_calculate"] for p in sandbox.demand_posts()] == [False] * (n - 1) + [True]
    assert "resuming, 2 unit(s) already accepted" in m["cadence"]


def test_a_year_backfill_is_one_run_and_the_same_range_twice_a_day_is_refused(
    resources, local_instance, sandbox
):
    res = small_chunks(resources, sandbox, cap=500_000)
    tags = {
        "dagster/asset_partition_range_start": "2025-11-18",
        "dagster/asset_partition_range_end": "2026-11-21",
    }
    first = dg.materialize(**DEMAND_ONLY, instance=local_instance, resources=res, tags=tags)
    assert len(local_instance.get_runs()) == 1
    m = meta(first, "paqtana_historical_demand")
    assert m["cadence"].startswith("sent: backfill of 2025-11-18..2026-11-21")
    assert m["chunks"] > 1 and m["largest_request_bytes"] <= 500_000
    posts = sandbox.demand_posts()
    assert [p["auto_calculate"] for p in posts] == [False] * (len(posts) - 1) + [True]
    assert (
        len({(r["date"], r["location"], r["code"]) for r in sandbox.historical_demand()})
        == m["dagster/row_count"]
    )
    again = dg.materialize(**DEMAND_ONLY, instance=local_instance, resources=res, tags=tags)
    assert "already backfilled today" in meta(again, "paqtana_historical_demand")["cadence"]
    assert len(sandbox.demand_posts()) == len(posts)


def test_force_without_reason_is_refused_and_with_reason_is_recorded(resources, instance, sandbox):
    assert materialize(PAQTANA_CHAIN, DAY, instance, resources).success
    # Refused by every job's executor before any step (tests/readme runs it from the CLI).
    assert config_problems({"cadence": {"force": True}}) == [
        "force: true needs a reason (resources.cadence.config.reason), so the ledger says why "
        "the vendor's limit was overridden"
    ]
    assert config_problems({"cadence": {"force": True, "reason": "ERP re-export"}}) == []
    forced = resources | {"cadence": CadenceGuardResource(force=True, reason="ERP re-export")}
    result = materialize(PAQTANA_CHAIN, DAY, instance, forced)
    assert meta(result, "paqtana_master_inventory")["cadence"] == "sent: forced: ERP re-export"
    puts = [r for r in sandbox.requests("paqtana") if r["method"] == "PUT"]
    assert len(puts) == 2


def run_together(days: list[str], env: dict[str, str], run_config) -> str:  # noqa: ANN001
    """`dagster job execute` of daily_sync for each of `days`, all started at once; every run
    must succeed. Their output, joined."""
    runs = [
        subprocess.Popen(
            daily_sync_command(day, run_config),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in days
    ]
    outputs = [r.communicate(timeout=280)[0] for r in runs]
    failures = [o for r, o in zip(runs, outputs, strict=True) if r.returncode != 0]
    # the whole output as text: a list would be shown cut to a line, the cause left out
    assert not failures, "\n\n--- the other run ---\n\n".join(failures)
    return "".join(outputs)


def vendor_writes(sandbox) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(r["method"], r["path"]) for r in sandbox.requests() if r["method"] in ("PUT", "POST")]


def on_hand(sandbox, location: str, code: str) -> float:  # noqa: ANN001
    [row] = [
        r for r in sandbox.master_inventory() if (r["location"], r["code"]) == (location, code)
    ]
    return row["onHandStock"]


def test_runs_started_together_send_once_a_calendar_day_and_leave_the_newest_day(tmp_path, sandbox):
    home, exports = tmp_path / "home", tmp_path / "exports"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    shutil.copytree(SAMPLE_EXPORTS, exports)  # Sunday's drop is there, not yet complete
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "ERP_EXPORT_DIR": str(exports),
        "ERP_SYNC_DATA_DIR": str(tmp_path / "data"),
        "PAQTANA_BASE_URL": sandbox.paqtana_url,
        "PAQTANA_TOKEN": "sandbox-paqtana-token",
        "PAQTANA_ORG": "demo-org",
        "PIXEE_BASE_URL": sandbox.pixee_url,
        "PIXEE_API_KEY": "pm_test_sandbox",
    }
    env.pop("PXM_CLIENT_ID", None)
    # each run's steps in its own process: two runs, not two process trees of steps each
    in_process = tmp_path / "in_process.yaml"
    in_process.write_text("execution:\n  config:\n    in_process: {}\n")
    # the instance's tables are made once, as on a real deployment, before two runs start
    subprocess.run(
        [sys.executable, "-m", "dagster", "instance", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    # Saturday: two runs of the day at once.
    output = run_together([DAY, DAY], env, in_process)
    writes = vendor_writes(sandbox)
    assert writes.count(("PUT", "/v2/org/demo-org/master_inventory")) == 1
    assert writes.count(("POST", "/v2/org/demo-org/historical_demand")) == 1
    assert writes.count(("POST", "/api/v1/ext/products/batch")) == 2  # 501 products: 500 + 1
    skipped = output.count("paqtana PUT master_inventory: skipped: already sent today")
    assert skipped == 1
    assert on_hand(sandbox, "WH-LILLE", "SKU-00003") == 444

    # The next calendar day (the ledger's clock: SYNC_NOW), Sunday's run and a re-run of
    # Saturday started together: one send per endpoint again, and whichever claims first, the
    # vendors end with Sunday's drop (Saturday's snapshot is identical to what they hold, or
    # older than Sunday's once that is sent).
    (exports / SUNDAY / "_SUCCESS").touch()
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    run_together([SUNDAY, DAY], env | {"SYNC_NOW": tomorrow.isoformat()}, in_process)
    sunday = vendor_writes(sandbox)[len(writes) :]
    assert sunday.count(("PUT", "/v2/org/demo-org/master_inventory")) == 1
    assert sunday.count(("POST", "/v2/org/demo-org/historical_demand")) == 1
    assert sunday.count(("POST", "/api/v1/ext/products/batch")) == 1  # Sunday's 2 changes
    assert on_hand(sandbox, "WH-LILLE", "SKU-00003") == 445
    assert SUNDAY in {p["date"] for p in sandbox.historical_demand()}
    products = {p["ean"]: p for p in sandbox.pixee_products()}
    assert products["3760000000055"]["short_description"] == "Lampe VOLTA 5 (new)"
