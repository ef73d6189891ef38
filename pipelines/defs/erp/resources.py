"""Where the ERP exports, the dialect mapping and the staged frames live."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from pipelines.core.erp.export_store import ExportLocation, ExportStore
from pipelines.core.erp.mapping import ErpMapping, load_mapping
from pipelines.core.locations import WorkspaceMapping, load_locations
from pipelines.core.staging import StagingStore
from pipelines.defs import settings


class ErpExportStoreResource(dg.ConfigurableResource):
    """Where the ERP drops its exports (ERP_EXPORT_DIR: a folder, or an sftp://, s3:// or
    file:// URL) and how to log in there. Secrets are `dg.EnvVar`s (definitions.py), resolved
    when a run or tick starts; the UI shows the variable names only."""

    export_dir: str = settings.ERP_EXPORT_DIR
    sftp_password: str | None = None
    sftp_key_file: str | None = None
    sftp_key_passphrase: str | None = None
    sftp_known_hosts: str | None = settings.ERP_EXPORT_SFTP_KNOWN_HOSTS
    s3_endpoint_url: str | None = settings.ERP_EXPORT_S3_ENDPOINT_URL
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    @contextmanager
    def export_store(self) -> Iterator[ExportStore]:
        """The export location, connected for the block (read only, never changed)."""
        location = ExportLocation(
            url=self.export_dir,
            sftp_password=self.sftp_password,
            sftp_key_file=self.sftp_key_file,
            sftp_key_passphrase=self.sftp_key_passphrase,
            sftp_known_hosts=self.sftp_known_hosts,
            s3_endpoint_url=self.s3_endpoint_url,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )
        with ExportStore.connect(location) as store:
            yield store


class ErpExportsResource(ErpExportStoreResource):
    """The ERP side: the export location (above), dialect mapping, location mapping, and our
    staging area."""

    mapping_file: str = settings.ERP_MAPPING_FILE
    locations_file: str = settings.LOCATIONS_FILE
    data_dir: str = settings.DATA_DIR
    max_reject_share: float = settings.MAX_REJECT_SHARE

    def mapping(self) -> ErpMapping:
        return load_mapping(self.mapping_file)

    def locations(self) -> WorkspaceMapping:
        return load_locations(self.locations_file)

    def staging(self) -> StagingStore:
        return StagingStore(Path(self.data_dir))
