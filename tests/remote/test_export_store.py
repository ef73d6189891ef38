"""What works on a local export folder works the same over SFTP and S3 (real servers on
127.0.0.1): drops and their `_SUCCESS` markers, kind and history files, every case of the
bad-input corpus (dialects, .gz, .xlsx, line numbers in rejects), read in place."""

from __future__ import annotations

import datetime as dt
import os
import time

import pandas as pd
import pytest

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.drops import list_drops
from pipelines.core.erp.export_store import ExportLocation, ExportStore
from pipelines.core.erp.extract import extract_demand, extract_snapshot
from pipelines.core.erp.mapping import load_mapping
from tests.conftest import CANONICAL_MAPPING, SAMPLE_EXPORTS
from tests.erp.test_corpus import CASES, check_case
from tests.remote.servers import SftpServer, copy_tree

DAY = dt.date(2026, 11, 21)


def test_drops_markers_and_files_are_listed_as_in_the_local_folder(tmp_path, publish):
    exports = tmp_path / "exports"
    for day, marker in (("2026-11-19", True), ("2026-11-20", True), ("2026-11-21", False)):
        (exports / day).mkdir(parents=True)
        (exports / day / "items.csv").write_text("location,code,on_hand\nP,A,1\n")
        (exports / day / "items_extra.csv.gz").write_bytes(b"")
        (exports / day / "notes.txt").write_text("not an export")
        if marker:
            (exports / day / "_SUCCESS").write_text("")
    (exports / "history").mkdir()
    (exports / "history" / "demand_2025.csv.gz").write_bytes(b"")
    (exports / "history" / "demand_2024.xlsx").write_bytes(b"")
    (exports / "tmp-upload").mkdir()  # not a date: not a drop
    (exports / "tmp-upload" / "x.csv").write_text("x\n")
    store = publish(exports)
    marker_written = time.time()

    remote, local = list_drops(store), list_drops(exports)

    assert (
        [(d.day, d.complete) for d in remote]
        == [(d.day, d.complete) for d in local]
        == [
            (dt.date(2026, 11, 19), True),
            (dt.date(2026, 11, 20), True),
            (dt.date(2026, 11, 21), False),
        ]
    )
    assert abs(remote[0].marker_mtime - marker_written) < 120  # S3: upload time; SFTP: the file's
    assert remote[0].path == store.location + "/2026-11-19"
    assert [f.name for f in remote[0].files(FileKind.ITEMS)] == ["items.csv", "items_extra.csv.gz"]
    assert [str(f) for f in remote[0].files(FileKind.ITEMS)][0] == (
        store.location + "/2026-11-19/items.csv"
    )
    assert remote[0].files(FileKind.DEMAND) == []
    assert [f.name for f in store.history_files()] == ["demand_2024.xlsx", "demand_2025.csv.gz"]


def test_a_missing_export_folder_has_no_drops(tmp_path, publish):
    exports = tmp_path / "exports"
    (exports / "elsewhere").mkdir(parents=True)
    (exports / "elsewhere" / "f.csv").write_text("x\n")
    store = publish(exports)
    missing = ExportStore(store.fs, store.folder("not-there"), shown_prefix=store.shown(""))

    assert list_drops(missing) == []
    assert missing.history_files() == []


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_every_corpus_case_gives_the_same_outcome_from_a_remote_store(case, tmp_path, publish):
    check_case(case, tmp_path, publish)


def without_file(rejects: pd.DataFrame) -> pd.DataFrame:
    return rejects.drop(columns=["file"]).reset_index(drop=True)


def test_the_sample_drop_extracts_the_same_frames_and_rejects_as_from_the_local_folder(
    tmp_path, publish
):
    """The sample: a gzipped year of history, four complete drops and one without _SUCCESS,
    a few refused rows; every frame, count and reject line is the local folder's."""
    exports = copy_tree(SAMPLE_EXPORTS, tmp_path / "exports")
    store = publish(exports)
    mapping = load_mapping(CANONICAL_MAPPING)

    for kind in (FileKind.ITEMS, FileKind.PRODUCTS):
        remote = extract_snapshot(store, DAY, kind, mapping)
        local = extract_snapshot(exports, DAY, kind, mapping)
        pd.testing.assert_frame_equal(remote.clean, local.clean)
        pd.testing.assert_frame_equal(without_file(remote.rejects), without_file(local.rejects))
        assert remote.files == [store.location + f"/{DAY}/{kind.value}.csv"]
    first = DAY - dt.timedelta(days=30)
    remote = extract_demand(store, first, DAY, mapping)
    local = extract_demand(exports, first, DAY, mapping)
    pd.testing.assert_frame_equal(remote.clean, local.clean)
    pd.testing.assert_frame_equal(without_file(remote.rejects), without_file(local.rejects))
    assert (remote.rows_read, remote.rows_superseded) == (local.rows_read, local.rows_superseded)
    assert remote.rows_rejected == local.rows_rejected > 0
    assert set(remote.rejects["file"]) == {
        f.replace(str(exports), store.location) for f in local.rejects["file"]
    }
    assert remote.files[0] == store.location + "/history/demand_2025-11-18_2026-11-17.csv.gz"


def listing(store: ExportStore) -> list[tuple]:
    """Every file and folder under the store's root with its size and time, as the server has
    it (what a write, move, delete or touch would change)."""
    found = store.fs.find(store.root, withdirs=True, detail=True)
    return sorted(
        (name, info["type"], info.get("size"), str(info.get("mtime") or info.get("LastModified")))
        for name, info in found.items()
    )


def test_extracting_never_changes_the_erp_folder(tmp_path, publish):
    exports = copy_tree(SAMPLE_EXPORTS, tmp_path / "exports")
    store = publish(exports)
    before = listing(store)
    mapping = load_mapping(CANONICAL_MAPPING)

    extract_snapshot(store, DAY, FileKind.ITEMS, mapping)
    extract_demand(store, DAY - dt.timedelta(days=400), DAY, mapping)
    list_drops(store)[0].complete  # noqa: B018 (the marker look-up)

    assert listing(store) == before
    assert len(before) > 10


def test_a_marker_mtime_over_sftp_is_the_files_own(tmp_path, sftp_server: SftpServer):
    exports = tmp_path / "exports"
    (exports / "2026-11-21").mkdir(parents=True)
    marker = exports / "2026-11-21" / "_SUCCESS"
    marker.write_text("")
    written = time.time() - 3600
    os.utime(marker, (written, written))

    with ExportStore.connect(sftp_server.location(exports)) as store:
        [drop] = list_drops(store)

        assert drop.marker_mtime == pytest.approx(written, abs=1)  # SFTP times are whole seconds


def test_drops_are_listed_through_a_file_url(tmp_path):
    copy_tree(SAMPLE_EXPORTS, tmp_path / "exports")

    with ExportStore.connect(ExportLocation(f"file://{tmp_path}/exports")) as store:
        days = [(d.day.isoformat(), d.complete) for d in list_drops(store)]

    assert store.location == f"{tmp_path}/exports"
    assert days[-2:] == [("2026-11-21", True), ("2026-11-22", False)]


def _linked_exports(tmp_path) -> tuple:
    """An export folder whose history folder, one drop folder and one drop file are symlinks
    into a share elsewhere (how ERP hosts often publish), plus a dangling link."""
    share, exports = tmp_path / "share", tmp_path / "exports"
    (share / "history").mkdir(parents=True)
    (share / "history" / "demand_2025.csv.gz").write_bytes(b"")
    (share / "2026-11-20").mkdir()
    (share / "2026-11-20" / "items.csv").write_text("location,code,on_hand\nP,A,1\n")
    (share / "2026-11-20" / "_SUCCESS").write_text("")
    (share / "items_extra.csv").write_text("location,code,on_hand\nP,B,1\n")
    (exports / "2026-11-21").mkdir(parents=True)
    (exports / "2026-11-21" / "items.csv").write_text("location,code,on_hand\nP,A,2\n")
    (exports / "2026-11-21" / "items_extra.csv").symlink_to(share / "items_extra.csv")
    (exports / "2026-11-21" / "items_gone.csv").symlink_to(share / "not-there.csv")
    (exports / "2026-11-21" / "_SUCCESS").write_text("")
    (exports / "history").symlink_to(share / "history", target_is_directory=True)
    (exports / "2026-11-20").symlink_to(share / "2026-11-20", target_is_directory=True)
    (exports / "2026-11-19").symlink_to(share / "2026-11-19", target_is_directory=True)  # dangling
    return exports


def _check_linked(store: ExportStore) -> None:
    drops = list_drops(store)
    assert [(d.day, d.complete) for d in drops] == [
        (dt.date(2026, 11, 20), True),
        (dt.date(2026, 11, 21), True),
    ]
    assert [f.name for f in drops[0].files(FileKind.ITEMS)] == ["items.csv"]
    assert [f.name for f in drops[1].files(FileKind.ITEMS)] == ["items.csv", "items_extra.csv"]
    assert [f.name for f in store.history_files()] == ["demand_2025.csv.gz"]


def test_symlinked_history_and_drop_folders_are_found_locally(tmp_path):
    _check_linked(ExportStore.local(_linked_exports(tmp_path)))


def test_symlinked_history_and_drop_folders_are_found_over_sftp(tmp_path, sftp_server):
    with ExportStore.connect(sftp_server.location(_linked_exports(tmp_path))) as store:
        _check_linked(store)
