"""The definitions hold nothing of the environment they were loaded in: two loads with different
vendor addresses, modes and credentials give the same daily_sync snapshot, so a run launched on
one machine (or before a credential was set) re-executes without "may be a different version",
and neither the snapshot nor the Launchpad's defaults carry a URL or a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SHOW = """
import json
from dagster._serdes import serialize_value
from pipelines.definitions import defs
job = defs.resolve_job_def("daily_sync")
snapshot = serialize_value(job.get_job_index().job_snapshot)
print(json.dumps({"id": job.get_job_snapshot_id(), "snapshot": snapshot}))
"""
VARIABLES = (
    "PAQTANA_BASE_URL",
    "PAQTANA_TOKEN",
    "PAQTANA_ORG",
    "PIXEE_BASE_URL",
    "PIXEE_API_KEY",
    "PXM_BASE_URL",
    "PXM_CLIENT_ID",
    "PXM_CLIENT_SECRET",
    "SYNC_MODE",
    "SYNC_OUTBOX_DIR",
    "ERP_EXPORT_DIR",
    "ERP_EXPORT_SFTP_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)
SANDBOX = {
    "PAQTANA_BASE_URL": "http://127.0.0.1:8765/paqtana",
    "PAQTANA_TOKEN": "SECRET-paqtana-token",
    "PAQTANA_ORG": "SECRET-org",
    "PIXEE_BASE_URL": "http://127.0.0.1:8765/pixee/api/v1/ext",
    "PIXEE_API_KEY": "SECRET-pixee-key",
    "PXM_BASE_URL": "http://127.0.0.1:8765/pxm",
    "PXM_CLIENT_ID": "SECRET-pxm-id",
    "PXM_CLIENT_SECRET": "SECRET-pxm-secret",
    "SYNC_MODE": "dry-run",
    "SYNC_OUTBOX_DIR": "/tmp/elsewhere/outbox",
    "ERP_EXPORT_DIR": "sftp://erp@sftp.example.com:22/exports",
    "ERP_EXPORT_SFTP_PASSWORD": "SECRET-sftp",
    "AWS_ACCESS_KEY_ID": "SECRET-aws-id",
    "AWS_SECRET_ACCESS_KEY": "SECRET-aws-secret",
}


def test_the_daily_sync_snapshot_is_the_same_whatever_the_environment():
    bare = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    loads = [
        subprocess.Popen(
            [sys.executable, "-c", SHOW], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for env in (bare, bare | SANDBOX)
    ]
    production, sandbox = (json.loads(load.communicate(timeout=120)[0]) for load in loads)
    assert all(load.returncode == 0 for load in loads)

    assert production["id"] == sandbox["id"]
    for shown in (production["snapshot"], sandbox["snapshot"]):
        for value in ("api.paqtana.com", "pixeepim.com", "amplifi.io", "127.0.0.1", "sftp://"):
            assert value not in shown
        assert "SECRET-" not in shown
