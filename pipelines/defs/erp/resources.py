"""Where the ERP exports are and how to read them: the export store, the dialect mapping and
the location mapping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from pipelines.core.erp.drops import DropNotReadyError, require_drop
from pipelines.core.erp.export_store import ExportLocation, ExportStore, ExportStoreError
from pipelines.core.erp.mapping import ErpMapping, load_mapping
from pipelines.core.locations import WorkspaceMapping, load_locations
from pipelines.defs import settings


class ErpExportStoreResource(dg.ConfigurableResource):
    """Where the ERP drops its exports (ERP_EXPORT_DIR: a folder, or an sftp://, s3:// or
    file:// URL) and how to log in there. Secrets are `dg.EnvVar`s (definitions.py), resolved
    when a run or tick starts; the UI shows the variable names only."""

    # Each empty field is read from its environment variable at run time (ERP_EXPORT_DIR,
    # ERP_EXPORT_SFTP_KNOWN_HOSTS, ERP_EXPORT_S3_ENDPOINT_URL), so no deployment's value is
    # baked in.
    export_dir: str = ""
    sftp_password: str | None = None
    sftp_key_file: str | None = None
    sftp_key_passphrase: str | None = None
    sftp_known_hosts: str | None = None
    s3_endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    @contextmanager
    def export_store(self) -> Iterator[ExportStore]:
        """The export location, connected for the block (read only, never changed)."""
        location = ExportLocation(
            url=self.export_dir or settings.ERP_EXPORT_DIR,
            sftp_password=self.sftp_password,
            sftp_key_file=self.sftp_key_file,
            sftp_key_passphrase=self.sftp_key_passphrase,
            sftp_known_hosts=self.sftp_known_hosts or settings.ERP_EXPORT_SFTP_KNOWN_HOSTS,
            s3_endpoint_url=self.s3_endpoint_url or settings.ERP_EXPORT_S3_ENDPOINT_URL,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )
        with ExportStore.connect(location) as store:
            yield store

    def drop_not_ready(self, day: dt.date) -> str | None:
        """Why the drop of `day` cannot be read now (missing, incomplete, or the export
        location unreachable), or None when it is complete."""
        try:
            with self.export_store() as store:
                require_drop(store, day)
        except (DropNotReadyError, ExportStoreError) as exc:
            return str(exc)
        return None


class ErpExportsResource(ErpExportStoreResource):
    """The ERP side: the export location (above), its dialect, and its locations' workspaces."""

    # Empty: read at run time from ERP_MAPPING_FILE, LOCATIONS_FILE, MAX_REJECT_SHARE.
    mapping_file: str = ""
    locations_file: str = ""
    max_reject_share: float | None = None

    @property
    def reject_share_limit(self) -> float:
        return settings.MAX_REJECT_SHARE if self.max_reject_share is None else self.max_reject_share

    def mapping(self) -> ErpMapping:
        return load_mapping(self.mapping_file or settings.ERP_MAPPING_FILE)

    def locations(self) -> WorkspaceMapping:
        return load_locations(self.locations_file or settings.LOCATIONS_FILE)
