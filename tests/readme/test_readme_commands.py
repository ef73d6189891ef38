"""The README's walk-through, run as pasted: every fenced block marked ```` ```bash
readme-step=<name> ```` in README.md, in the README's order, each asserted against what the
README says it shows. The commands come from README.md itself, so the two cannot drift.

As a newcomer would: the sandbox in a process of its own (the "first terminal"), then every
other step in a fresh bash that first runs the `env` block (the "second terminal"). Three things
differ from a person's machine, each so the test cannot disturb or be disturbed by it: the
port (a free one instead of 8765, replaced in every block), the folder the commands run in (a
scratch folder holding links to the project's `.venv`, `sample_data` and `config`), and the
project-relative data folders (`ERP_SYNC_DATA_DIR`, `SYNC_OUTBOX_DIR` point into the scratch
folder).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
README_PORT = "8765"
STEP_BLOCK = re.compile(r"^```bash readme-step=(\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
EXPECTED_STEPS = [
    "sandbox",
    "env",
    "execute",
    "force-without-reason",
    "force",
    "backfill",
    "dry-run",
    "sap",
]
VENDOR_VARS = ("PAQTANA_", "PIXEE_", "PXM_", "SYNC_", "ERP_", "DAGSTER_HOME", "MAX_RE")


def readme_steps(port: int) -> dict[str, str]:
    blocks = STEP_BLOCK.findall(README.read_text(encoding="utf-8"))
    assert [name for name, _ in blocks] == EXPECTED_STEPS, "README steps missing or reordered"
    return {name: body.replace(README_PORT, str(port)) for name, body in blocks}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _requests(base: str) -> list[dict]:
    with urllib.request.urlopen(f"{base}/_sandbox/requests", timeout=10) as answer:
        return json.load(answer)["data"]


@pytest.fixture
def walk(tmp_path):
    """The scratch project folder and a clean environment (no vendor setting of the caller's)."""
    for name in (".venv", "sample_data", "config"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(VENDOR_VARS)}
    env |= {
        "ERP_SYNC_DATA_DIR": str(tmp_path / ".erp_sync"),
        "SYNC_OUTBOX_DIR": str(tmp_path / ".erp_sync" / "outbox"),
        "PATH": os.defpath,  # the venv comes from the README's `source .venv/bin/activate`
    }
    return tmp_path, env


def test_the_readme_walk_through_works_as_pasted(walk):
    work, env = walk
    port = _free_port()
    steps = readme_steps(port)
    base = f"http://127.0.0.1:{port}"
    today = dt.datetime.now(dt.UTC).date().isoformat()

    sandbox = subprocess.Popen(
        ["bash", "-c", steps["sandbox"]],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        # Its output read all along (an unread pipe would stall it on its access log).
        printed: list[str] = []
        reader = threading.Thread(
            target=lambda: printed.extend(line.rstrip("\n") for line in sandbox.stdout),
            daemon=True,
        )
        reader.start()
        # The sandbox prints exactly the export lines the README's env step pastes.
        deadline = time.monotonic() + 30
        wanted = [line for line in steps["env"].splitlines() if line.startswith("export PAQ")]
        while not any(line.startswith("export PXM_CLIENT_SECRET") for line in printed):
            assert time.monotonic() < deadline, f"the sandbox printed no exports: {printed}"
            assert sandbox.poll() is None, f"the sandbox stopped: {printed}"
            time.sleep(0.05)
        exports = [line for line in printed if line.startswith("export ")]
        readme_exports = [line for line in steps["env"].splitlines() if line.startswith("export ")]
        assert wanted and exports == [e for e in readme_exports if "DAGSTER_HOME" not in e]
        while True:  # serving once its address answers
            try:
                _requests(base)
                break
            except OSError:
                assert time.monotonic() < deadline, "the sandbox does not answer"
                time.sleep(0.1)

        def script(name: str) -> list[str]:
            return ["bash", "-c", f"set -e\n{steps['env']}\nset +e\n{steps[name]}"]

        def run(name: str) -> tuple[int, str]:
            done = subprocess.run(
                script(name), cwd=work, env=env, capture_output=True, text=True, timeout=180
            )
            return done.returncode, done.stdout + done.stderr

        # 7. runs beside steps 3-5 (a deployment of its own: its own instance and data folder),
        # so the walk-through fits the suite's time budget; it ends before the dry-run.
        sap = subprocess.Popen(
            script("sap"),
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        # 3. the day's sync sends and succeeds
        rc, out = run("execute")
        assert rc == 0 and "RUN_SUCCESS" in out, out[-3000:]
        assert f"paqtana PUT master_inventory: sent: the write of {today} (manual)" in out

        # 4. force without a reason: refused in one line before any step, nothing sent
        before = len(_requests(base))
        rc, out = run("force-without-reason")
        assert rc != 0, out[-3000:]
        refusal = [line for line in out.splitlines() if "run refused before any step" in line]
        assert refusal and "force: true needs a reason" in refusal[0], out[-3000:]
        assert "STEP_START" not in out and "Traceback" not in out, out[-3000:]
        assert len(_requests(base)) == before
        # ... and with a reason it sends again
        rc, out = run("force")
        assert rc == 0, out[-3000:]
        assert "paqtana PUT master_inventory: sent: forced: ERP re-exported the day" in out

        # 5. the backfill: one run, beside the daily budget
        rc, out = run("backfill")
        assert rc == 0, out[-3000:]
        assert (
            "paqtana POST historical_demand: sent: backfill of 2026-10-22..2026-11-21 "
            "(initial-load exception)" in out
        ), out[-3000:]

        sap_out, _ = sap.communicate(timeout=180)

        # 6. dry-run: nothing reaches the sandbox; the loads say what a live run would do
        before = len(_requests(base))
        rc, out = run("dry-run")
        assert rc == 0, out[-3000:]
        assert "a live run would skip: already sent today" in out, out[-3000:]
        assert len(_requests(base)) == before

        # 7. the SAP sample with its mapping: sent, its faulty rows refused with SAP's reasons
        assert sap.returncode == 0, sap_out[-3000:]
        assert f"paqtana PUT master_inventory: sent: the write of {today} (manual)" in sap_out
        rejects = (work / ".erp_sync" / "sap" / "rejects").rglob("*.csv")
        reasons = "".join(path.read_text(encoding="utf-8") for path in rejects)
        assert "'1,234.50' looks like point-decimal notation" in reasons
        assert "not a date in format %d.%m.%Y" in reasons
    finally:
        # Ctrl-C, as the README says
        os.killpg(sandbox.pid, signal.SIGINT)
        sandbox.wait(timeout=15)
        reader.join(timeout=5)
    rest = "\n".join(printed[-40:])
    assert sandbox.returncode == 0 and "Traceback" not in rest, rest
