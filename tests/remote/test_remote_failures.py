"""A remote that cannot be reached, or refuses us, fails the extract with a message naming the
URL without credentials, the error and what to check; no credential is in any event."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.core.erp.export_store import ExportLocation
from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.staging import StagingResource
from tests.conftest import ROOT, SAMPLE_EXPORTS
from tests.reliability.harness import failure_messages
from tests.reliability.leaks import event_log_text
from tests.remote.helpers import erp_resource
from tests.remote.servers import LEAKABLE, SftpServer, copy_tree

DAY = "2026-11-21"
STORE_ERROR = (
    "pipelines.core.erp.export_store.ExportStoreError: cannot read the ERP export location"
)


def extract_items(location: ExportLocation, tmp_path: Path) -> tuple[str, str]:
    """Materialize erp_items from `location`: its failure message and the run's event log."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = dg.materialize(
            [erp_assets.erp_items],
            partition_key=DAY,
            instance=instance,
            resources={
                "erp": erp_resource(location),
                "staging": StagingResource(data_dir=str(tmp_path / "data")),
            },
            raise_on_error=False,
        )
        assert not result.success
        return failure_messages(result)["erp_items"], event_log_text(instance, result.run_id)


@pytest.mark.parametrize("scheme", ["sftp", "s3"])
def test_an_unreachable_remote_fails_the_extract_naming_the_url_and_what_to_check(
    scheme, unreachable, tmp_path
):
    location = unreachable(scheme)

    message, events = extract_items(location, tmp_path)

    assert message.startswith(f"{STORE_ERROR} {location.url} (")
    assert ("ConnectionRefusedError" if scheme == "sftp" else "EndpointConnectionError") in message
    assert "; check " in message
    assert not [s for s in LEAKABLE if s in events]


def test_a_server_whose_host_key_is_not_known_is_refused(tmp_path, sftp_server: SftpServer):
    exports = copy_tree(SAMPLE_EXPORTS, tmp_path / "exports")
    (tmp_path / "known_hosts").write_text("")
    location = dataclasses.replace(
        sftp_server.location(exports), sftp_known_hosts=str(tmp_path / "known_hosts")
    )

    message, events = extract_items(location, tmp_path)

    assert message.startswith(f"{STORE_ERROR} {location.url} (connecting): HostKeyNotVerifiable")
    assert "ERP_EXPORT_SFTP_KNOWN_HOSTS" in message
    assert not [s for s in LEAKABLE if s in events]


def test_a_wrong_key_passphrase_or_a_key_the_server_does_not_know_is_refused(
    tmp_path, sftp_server: SftpServer
):
    exports = copy_tree(SAMPLE_EXPORTS, tmp_path / "exports")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other_key")],
        check=True,
    )
    wrong_passphrase = dataclasses.replace(
        sftp_server.location(exports), sftp_key_passphrase="SECRET-wrong-passphrase"
    )
    unknown_key = dataclasses.replace(
        sftp_server.location(exports),
        sftp_key_file=str(tmp_path / "other_key"),
        sftp_key_passphrase=None,
    )

    for location, error in (
        (wrong_passphrase, "KeyEncryptionError: Incorrect passphrase"),
        (unknown_key, f"PermissionError: Permission denied for user {sftp_server.user}"),
    ):
        message, events = extract_items(location, tmp_path / error.split(":")[0])

        assert message.startswith(f"{STORE_ERROR} {location.url} (connecting): {error}")
        assert "ERP_EXPORT_SFTP_KEY_FILE" in message
        assert "SECRET-wrong-passphrase" not in events
        assert not [s for s in LEAKABLE if s in events]


def test_a_password_in_the_url_is_refused_without_showing_it(tmp_path, sftp_server: SftpServer):
    location = ExportLocation(f"sftp://erp:SECRET-in-url@127.0.0.1:{sftp_server.port}/exports")

    message, events = extract_items(location, tmp_path)

    assert message == (
        "pipelines.core.erp.export_store.ExportStoreError: ERP_EXPORT_DIR="
        f"sftp://erp:***@127.0.0.1:{sftp_server.port}/exports: the URL carries a password, "
        "which would then show in logs and in the UI; remove it and set "
        "ERP_EXPORT_SFTP_PASSWORD (or use a key: ERP_EXPORT_SFTP_KEY_FILE)"
    )
    assert "SECRET-in-url" not in events


def test_the_code_location_holds_no_export_credential_and_reads_them_at_run_time():
    """Neither the UI, the run config nor the job's snapshot holds a credential: the resource
    reads each one from its environment variable when a run or a sensor tick connects."""
    variables = {
        "sftp_password": "ERP_EXPORT_SFTP_PASSWORD",
        "sftp_key_file": "ERP_EXPORT_SFTP_KEY_FILE",
        "sftp_key_passphrase": "ERP_EXPORT_SFTP_KEY_PASSPHRASE",
        "aws_access_key_id": "AWS_ACCESS_KEY_ID",
        "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
        "aws_session_token": "AWS_SESSION_TOKEN",
    }
    env = os.environ | {variable: f"SECRET-{variable}" for variable in variables.values()}
    show = f"""
import json
from unittest import mock
import pipelines.defs.erp.resources as resources
from pipelines.definitions import defs

erp, fields = defs.resources["erp"], {list(variables)}
print(json.dumps({{f: getattr(erp, f) for f in fields}}))
with mock.patch.object(resources.ExportStore, "connect", side_effect=LookupError) as connect:
    try:
        erp.export_store().__enter__()
    except LookupError:
        pass
location = connect.call_args.args[0]
print(json.dumps({{f: getattr(location, f) for f in fields}}))
"""
    run = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    held, used = (json.loads(line) for line in run.stdout.splitlines())
    assert held == dict.fromkeys(variables)
    assert used == {field: f"SECRET-{variable}" for field, variable in variables.items()}
