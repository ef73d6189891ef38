"""Resources pointing at a remote export location, as a deployment would configure them."""

from __future__ import annotations

from typing import Any

from pipelines.core.erp.export_store import ExportLocation
from pipelines.defs.erp.resources import ErpExportsResource
from tests.conftest import CANONICAL_MAPPING, LOCATIONS


def export_store_fields(location: ExportLocation) -> dict[str, Any]:
    """The ErpExportStoreResource fields for `location` (secrets as plain values, as a test
    passes them; a deployment passes dg.EnvVars)."""
    return {
        "export_dir": location.url,
        "sftp_password": location.sftp_password,
        "sftp_key_file": location.sftp_key_file,
        "sftp_key_passphrase": location.sftp_key_passphrase,
        "sftp_known_hosts": location.sftp_known_hosts,
        "s3_endpoint_url": location.s3_endpoint_url,
        "aws_access_key_id": location.aws_access_key_id,
        "aws_secret_access_key": location.aws_secret_access_key,
        "aws_session_token": location.aws_session_token,
    }


def erp_resource(location: ExportLocation) -> ErpExportsResource:
    return ErpExportsResource(
        **export_store_fields(location),
        mapping_file=str(CANONICAL_MAPPING),
        locations_file=str(LOCATIONS),
    )
