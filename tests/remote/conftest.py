"""One sshd and one S3 server for the session, on 127.0.0.1; each test gets its own folder or
bucket on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.core.erp.export_store import ExportLocation, ExportStore
from tests.e2e.conftest import no_retry_sleeps  # noqa: F401 (autouse: no real backoff sleeps)
from tests.remote.servers import (
    HOST,
    S3Server,
    SftpServer,
    free_port,
    start_s3_server,
    start_sftp_server,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (still run by default)")


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    server = start_sftp_server(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.stop()


@pytest.fixture
def served(tmp_path: Path) -> Path:
    """A folder this test fills; the SFTP server serves it by its path."""
    folder = tmp_path / "served"
    folder.mkdir()
    return folder


@pytest.fixture(params=["sftp", "s3"])
def locate(request: pytest.FixtureRequest) -> Callable[[Path], ExportLocation]:
    """locate(folder): the location of `folder`'s files on a real server: served in place over
    SFTP, or uploaded to a new bucket on S3."""
    if request.param == "sftp":
        sftp: SftpServer = request.getfixturevalue("sftp_server")
        return sftp.location
    s3: S3Server = request.getfixturevalue("s3_server")
    return lambda folder: s3.location(s3.upload(folder))


@pytest.fixture
def publish(locate: Callable[[Path], ExportLocation]) -> Iterator[Callable[[Path], ExportStore]]:
    """publish(folder): an ExportStore connected to `locate(folder)`, closed after the test."""
    stores: list[ExportStore] = []

    def connect(folder: Path) -> ExportStore:
        stores.append(ExportStore.connect(locate(folder)))
        return stores[-1]

    yield connect
    for store in stores:
        store.close()


@pytest.fixture
def unreachable(sftp_server: SftpServer, s3_server: S3Server) -> Callable[[str], ExportLocation]:
    """unreachable("sftp" | "s3"): a location on a loopback port where nothing listens, with
    the real servers' credentials."""
    port = free_port()

    def location(scheme: str) -> ExportLocation:
        if scheme == "sftp":
            url = f"sftp://{sftp_server.user}@{HOST}:{port}/srv/erp/exports"
            return replace(sftp_server.location(Path("/")), url=url)
        return replace(
            s3_server.location("s3://drops/erp"), s3_endpoint_url=f"http://{HOST}:{port}"
        )

    return location
