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
    file:// URL) and how to log in there. Each unset credential is read from its environment
    variable (ERP_EXPORT_SFTP_PASSWORD, ERP_EXPORT_SFTP_KEY_FILE, ERP_EXPORT_SFTP_KEY_PASSPHRASE,
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) when a run or tick connects, so
    neither the UI nor the job's snapshot holds or depends on it."""

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
            sftp_password=self.sftp_password or settings.secret("ERP_EXPORT_SFTP_PASSWORD"),
            sftp_key_file=self.sftp_key_file or settings.secret("ERP_EXPORT_SFTP_KEY_FILE"),
            sftp_key_passphrase=self.sftp_key_passphrase
            or settings.secret("ERP_EXPORT_SFTP_KEY_PASSPHRASE"),
            sftp_known_hosts=self.sftp_known_hosts or settings.ERP_EXPORT_SFTP_KNOWN_HOSTS,
            s3_endpoint_url=self.s3_endpoint_url or settings.ERP_EXPORT_S3_ENDPOINT_URL,
            aws_access_key_id=self.aws_access_key_id or settings.secret("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.aws_secret_access_key
            or settings.secret("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=self.aws_session_token or settings.secret("AWS_SESSION_TOKEN"),
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
