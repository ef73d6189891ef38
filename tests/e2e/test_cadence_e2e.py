"""The cadence guard in real runs: resume after a crash, force with a reason, backfill as one run,
and two runs of the same day at once."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg

from pipelines.core.paqtana.client import PaqtanaClient
from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.launch_check import config_problems
from pipelines.defs.paqtana.resources import PaqtanaResource
from tests.conftest import ROOT
from tests.e2e.helpers import DEMAND_ONLY, PAQTANA_CHAIN, materialize, meta
from tests.reliability.job_process import daily_sync_command

DAY = "2026-11-21"
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


def test_two_runs_of_the_same_day_at_once_exactly_one_sends(tmp_path, sandbox):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = os.environ | {
        "DAGSTER_HOME": str(home),
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
    command = daily_sync_command(DAY, in_process)
    # the instance's tables are made once, as on a real deployment, before two runs start
    subprocess.run(
        [sys.executable, "-m", "dagster", "instance", "migrate"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    runs = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=280)[0] for r in runs]
    failures = [o for r, o in zip(runs, outputs, strict=True) if r.returncode != 0]
    # the whole output as text: a list would be shown cut to a line, the cause left out
    assert not failures, "\n\n--- the other run ---\n\n".join(failures)
    writes = [
        (r["method"], r["path"]) for r in sandbox.requests() if r["method"] in ("PUT", "POST")
    ]
    assert writes.count(("PUT", "/v2/org/demo-org/master_inventory")) == 1
    assert writes.count(("POST", "/v2/org/demo-org/historical_demand")) == 1
    assert writes.count(("POST", "/api/v1/ext/products/batch")) == 2  # 501 products: 500 + 1
    skipped = "".join(outputs).count("paqtana PUT master_inventory: skipped: already sent today")
    assert skipped == 1
