"""`make demo`'s entry point, twice on one day, as a person runs it: a screenful each time, the
full Dagster log in the file it names, and the daily sync report written with every vendor's
section. The second run sends nothing and says so, in agreement with what the sandbox logged."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from tests.conftest import ROOT

SCREENFUL = 25
VENDOR_SECTIONS = ("## Paqtana inventory", "## Paqtana demand", "## Pixee", "## PXM")


def run_demo(env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "erp_sandbox.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == "", done.stderr  # Dagster's events went to the log file
    return done.stdout.splitlines()


def named(lines: list[str], label: str) -> Path:
    [line] = [x for x in lines if x.startswith(f"{label}: ")]
    path = Path(line.removeprefix(f"{label}: "))
    return path if path.is_absolute() else ROOT / path


def test_make_demo_prints_a_screenful_twice_and_writes_the_report_and_the_log(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ERP_SYNC_DATA_DIR": str(tmp_path / "data"),
        # both runs on one calendar day of the ledger, even across midnight
        "SYNC_NOW": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    first = run_demo(env)
    second = run_demo(env)

    for lines in (first, second):
        assert len(lines) <= SCREENFUL, "\n".join(lines)
        assert not any("DEBUG" in x for x in lines)
        log = named(lines, "full Dagster log")
        assert log.is_relative_to(tmp_path / "data")
        assert "STEP_SUCCESS" in log.read_text()  # the events the terminal no longer shows
        report = named(lines, "report").read_text()
        for title in VENDOR_SECTIONS:
            assert f"\n{title}\n" in report, title
        assert report.count("**Next step:**") == len(VENDOR_SECTIONS)

    summary = "\n".join(first)
    assert re.search(r"Paqtana inventory +sent 1003 rows: 1 write request", summary), summary
    assert "refused rows, and why" in summary
    assert "data/rejects/pixee_products_sync/" in summary  # the product Pixee refused, and where

    head = second[[i for i, x in enumerate(second) if x.startswith("daily_sync of ")][0]]
    reads = int(re.search(r"writes nothing, (\d+) read request", head).group(1))
    [received] = [x for x in second if x.startswith("the sandbox received in this run: ")]
    logged = sum(int(n) for n in re.findall(r"(\d+) GET", received))
    assert reads == logged > 0 and not re.search(r"\d+ (PUT|POST)", received), received
    assert any("writes nothing; reads still happen" in x for x in second)
    assert any("already sent today: paqtana_master_inventory" in x for x in second)

    # the re-send config the report offers is one the deployed job accepts
    from pipelines.definitions import defs

    report = named(second, "report").read_text()
    block = re.search(r"```yaml\n(.*?)```", report, re.S)
    assert block, report
    assert dg.validate_run_config(defs.resolve_job_def("daily_sync"), yaml.safe_load(block[1]))
