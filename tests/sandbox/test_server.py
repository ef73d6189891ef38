"""Serving: state in a SQLite file survives a restart, only 127.0.0.1 is bound, and the CLI
serves and prints the three base URLs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from erp_sandbox import HOST, SandboxConfig, run_sandbox

from .conftest import PAQTANA_TOKEN, PIXEE_KEY

PAQTANA_AUTH = {"Authorization": f"Bearer {PAQTANA_TOKEN}"}
ROW = {"location": "L1", "code": "A", "workspaceCode": "WS-MAIN"}


def test_state_survives_a_restart_with_a_sqlite_file(tmp_path: Path) -> None:
    config = SandboxConfig(storage=str(tmp_path / "sandbox.sqlite"))
    demand = {**ROW, "dates": ["2026-06-01", "2026-06-02"], "quantities": [1, 2]}

    with run_sandbox(config) as first:
        httpx.put(
            f"{first.paqtana_url}/v2/org/demo-org/master_inventory",
            headers=PAQTANA_AUTH,
            json={"data": [ROW]},
        )
        httpx.post(
            f"{first.paqtana_url}/v2/org/demo-org/historical_demand?auto_calculate=True",
            headers=PAQTANA_AUTH,
            json={"data": [demand]},
        )
        httpx.post(
            f"{first.pixee_url}/products",
            headers={"X-API-Key": PIXEE_KEY},
            json={"ean": "3760000000001", "name": "A"},
        )
        before = (first.master_inventory(), first.historical_demand(), first.pixee_products())

    with run_sandbox(config) as second:
        fetched = httpx.get(
            f"{second.pixee_url}/products/3760000000001", headers={"X-API-Key": PIXEE_KEY}
        )
        after = (second.master_inventory(), second.historical_demand(), second.pixee_products())
        posts = second.demand_posts()

    assert after == before
    assert before[0] == [ROW] and len(before[1]) == 2 and len(before[2]) == 1
    assert fetched.json()["data"]["name"] == "A"
    assert [p["auto_calculate"] for p in posts] == [True]


def test_memory_storage_starts_empty_each_time() -> None:
    with run_sandbox() as first:
        httpx.post(
            f"{first.pixee_url}/products",
            headers={"X-API-Key": PIXEE_KEY},
            json={"ean": "3760000000001", "name": "A"},
        )
        assert len(first.pixee_products()) == 1
    with run_sandbox() as second:
        assert second.pixee_products() == []


def test_only_127_0_0_1_is_bound() -> None:
    with run_sandbox() as sandbox:
        url = httpx.URL(sandbox.url)
        on_127_0_0_1 = _accepts("127.0.0.1", url.port)
        # Linux routes all of 127/8 to lo: a server bound to 0.0.0.0 would answer here too.
        on_127_0_0_2 = _accepts("127.0.0.2", url.port)

    assert url.host == HOST == "127.0.0.1"
    assert (on_127_0_0_1, on_127_0_0_2) == (True, False)


def _accepts(address: str, port: int | None) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def test_cli_serves_on_the_given_port_and_prints_the_exports_to_paste(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    db = tmp_path / "cli.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "erp_sandbox", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = [process.stdout.readline() for _ in range(11)]  # type: ignore[union-attr]
        workspaces = _get_when_up(f"http://{HOST}:{port}/v2/org/demo-org/workspaces")
    finally:
        process.terminate()
        process.wait(timeout=10)

    exports = [line.rstrip("\n") for line in printed if line.startswith("export ")]
    assert exports == [
        f"export PAQTANA_BASE_URL=http://{HOST}:{port}",
        "export PAQTANA_TOKEN=sandbox-paqtana-token",
        "export PAQTANA_ORG=demo-org",
        f"export PIXEE_BASE_URL=http://{HOST}:{port}/api/v1/ext",
        "export PIXEE_API_KEY=pm_test_sandbox",
        f"export PXM_BASE_URL=http://{HOST}:{port}",
        "export PXM_CLIENT_ID=sandbox-pxm-client",
        "export PXM_CLIENT_SECRET=sandbox-pxm-secret",
    ]
    # Everything else it prints is a shell comment: the whole block pastes as is.
    assert all(line.startswith(("export ", "# ")) for line in printed), printed
    assert workspaces.status_code == 200
    assert db.exists()
    # --print-env prints the same lines for a port, and nothing else (for `eval`).
    env = subprocess.run(
        [sys.executable, "-m", "erp_sandbox", "--port", str(port), "--print-env"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert env.stdout.splitlines() == exports


def _get_when_up(url: str) -> httpx.Response:
    for _ in range(100):
        try:
            return httpx.get(url, headers=PAQTANA_AUTH, timeout=2)
        except httpx.ConnectError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered at {url}")
