"""`dg` sees the project as Dagster's own template lays one out ([tool.dg] in pyproject.toml):
`dg check defs` loads the code location, and `dg list defs` finds its jobs and sensors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

VENV_BIN = Path(sys.executable).parent


def dg(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "VIRTUAL_ENV": str(VENV_BIN.parent),  # the project's venv is the active one
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DAGSTER_HOME": str(home),
    }
    return subprocess.run(
        [str(VENV_BIN / "dg"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_dg_check_defs_passes(tmp_path):
    run = dg("check", "defs", home=tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "All definitions loaded successfully." in run.stdout


def test_dg_list_defs_finds_the_code_locations_jobs_and_sensors(tmp_path):
    run = dg("list", "defs", "--json", home=tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr
    listed = json.loads(run.stdout)
    assert {job["name"] for job in listed["jobs"]} >= {"daily_sync", "demand_backfill"}
    assert {sensor["name"] for sensor in listed["sensors"]} >= {"erp_drop_sensor"}
    assert {resource["name"] for resource in listed["resources"]} >= {"erp", "paqtana", "pixee"}
