"""The full daily_sync of the sample drop from SFTP and from S3 (real servers on 127.0.0.1)
sends the sandbox exactly what the same run from the local folder sends, refuses the same rows
at the same lines, and leaves no credential in any event or file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from erp_sandbox import run_sandbox
from pipelines.defs.erp.resources import ErpExportsResource
from tests.conftest import SAMPLE_EXPORTS
from tests.e2e.conftest import base_resources, sandbox_resources
from tests.reliability.harness import failure_messages, materialization, run_daily_sync
from tests.reliability.leaks import event_log_text
from tests.remote.helpers import erp_resource
from tests.remote.servers import LEAKABLE, S3Server, SftpServer, copy_tree

DAY = "2026-11-21"
EXTRACTS = ("erp_items", "erp_products", "erp_demand")
COUNTS = ("dagster/row_count", "rows_read", "rows_rejected", "rows_superseded")


@dataclass
class SyncOutcome:
    received: dict[str, Any]  # what the sandbox holds and was sent
    counts: dict[str, dict[str, Any]]  # per extract: rows kept, read, refused, superseded
    files: dict[str, list[str]]  # per extract: the files read, as shown
    rejects: dict[str, pd.DataFrame]  # per extract: the rejects file
    leaks: list[str]


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A record without when it was received and the id the sandbox drew for it (all that two
    runs of the same sync may differ in)."""
    return {
        k: v for k, v in record.items() if k != "id" and "time" not in k and not k.endswith("_at")
    }


def received(sandbox: Any) -> dict[str, Any]:
    return {
        "inventory": sandbox.master_inventory(),
        "demand": sandbox.historical_demand(),
        "demand_posts": [_plain(p) for p in sandbox.demand_posts()],
        "pixee_products": [_plain(p) for p in sandbox.pixee_products()],
        "requests": sorted(
            (r["vendor"], r["method"], r["path"], r["status"], r["body_bytes"])
            for r in sandbox.requests()
        ),
    }


def sync_from(erp: ErpExportsResource, root: Path) -> SyncOutcome:
    """The real daily_sync for DAY from `erp`'s export location against a fresh sandbox and
    instance under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    with run_sandbox() as sandbox, dg.instance_for_test(temp_dir=str(root)) as instance:
        resources = base_resources(root) | sandbox_resources(sandbox) | {"erp": erp}
        result = run_daily_sync(resources, instance, DAY)
        assert result.success, failure_messages(result)
        metadata = {asset: materialization(result, asset) for asset in EXTRACTS}
        events = event_log_text(instance, result.run_id)
        files = [p for p in root.rglob("*") if p.is_file()]
        leaks = [s for s in LEAKABLE if s in events]
        leaks += [f"{p}: {s}" for p in files for s in LEAKABLE if s.encode() in p.read_bytes()]
        return SyncOutcome(
            received=received(sandbox),
            counts={a: {k: m[k] for k in COUNTS} for a, m in metadata.items()},
            files={a: m["files"] for a, m in metadata.items()},
            rejects={a: pd.read_csv(m["rejects_file"], dtype=str) for a, m in metadata.items()},
            leaks=leaks,
        )


@pytest.fixture(scope="module")
def local_sync(tmp_path_factory: pytest.TempPathFactory) -> SyncOutcome:
    root = tmp_path_factory.mktemp("local_sync")
    return sync_from(base_resources(root)["erp"], root)


def assert_same_sync(remote: SyncOutcome, local: SyncOutcome, shown_root: str) -> None:
    def as_remote(name: str) -> str:
        return name.replace(str(SAMPLE_EXPORTS), shown_root)

    assert remote.received == local.received
    assert remote.counts == local.counts
    assert remote.files == {a: [as_remote(f) for f in files] for a, files in local.files.items()}
    for asset, rejects in local.rejects.items():
        expected = rejects.assign(file=rejects["file"].map(as_remote))
        pd.testing.assert_frame_equal(remote.rejects[asset], expected)
    assert remote.leaks == []


def test_local_sync_sends_the_sample_and_refuses_its_bad_rows(local_sync):
    """The baseline the remote runs are held to is a real sync, not an empty one."""
    assert len(local_sync.received["inventory"]) == local_sync.counts["erp_items"][COUNTS[0]] > 0
    assert local_sync.received["demand"] and local_sync.received["pixee_products"]
    assert sum(c["rows_rejected"] for c in local_sync.counts.values()) > 0


def test_daily_sync_from_sftp_sends_what_the_local_folder_run_sends(
    local_sync, sftp_server: SftpServer, tmp_path
):
    exports = copy_tree(SAMPLE_EXPORTS, tmp_path / "served" / "exports")
    location = sftp_server.location(exports)

    remote = sync_from(erp_resource(location), tmp_path / "run")

    assert_same_sync(remote, local_sync, location.url)


def test_daily_sync_from_s3_sends_what_the_local_folder_run_sends(
    local_sync, s3_server: S3Server, tmp_path
):
    location = s3_server.location(s3_server.upload(SAMPLE_EXPORTS))

    remote = sync_from(erp_resource(location), tmp_path / "run")

    assert_same_sync(remote, local_sync, location.url)
