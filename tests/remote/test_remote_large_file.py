"""A 1 GiB demand history on the SFTP server is streamed, not downloaded: peak RSS of the
extract, measured in a fresh process, stays under the local read's bound."""

from __future__ import annotations

import dataclasses

import pytest

from tests.erp.test_large_file import MAX_PEAK_MB, measure_1gib_history
from tests.remote.servers import SftpServer


@pytest.mark.slow
def test_a_1gib_history_over_sftp_is_read_in_bounded_memory(tmp_path, sftp_server: SftpServer):
    exports = tmp_path / "exports"

    measured = measure_1gib_history(exports, dataclasses.asdict(sftp_server.location(exports)))

    print(f"1 GiB history over SFTP: {measured}")  # shown with -s: the figures behind the bound
    assert measured["peak_mb"] < MAX_PEAK_MB
