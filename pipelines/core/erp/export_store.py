"""The place the ERP drops its exports, local or remote, listed and read in place.

ERP_EXPORT_DIR is a plain path, a `file://` URL, `sftp://user@host:port/path` or
`s3://bucket/prefix` (also on an S3-compatible endpoint). fsspec does the protocol work: its
local filesystem, `sshfs` (asyncssh) for SFTP and `s3fs` for S3. This module only lists and
opens: it never writes, moves or deletes in the ERP's folder (what was processed is known from
our own state). Whatever goes wrong with the location is raised as ExportStoreError naming the
URL (never a credential), the error and what to check.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import SplitResult, urlsplit

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from pipelines.core.erp.contract import FileKind
from pipelines.core.erp.reader import SUFFIXES

SUCCESS_MARKER = "_SUCCESS"
HISTORY_DIR = "history"
SCHEMES = ("sftp", "s3", "file")
# A remote that does not answer fails the extract or the sensor tick in this time, not never.
CONNECT_TIMEOUT_S = 20
READ_TIMEOUT_S = 60
# SFTP: a silent server is given up after 4 keepalives 15 s apart.
SSH_KEEPALIVE_S = 15
SSH_KEEPALIVE_COUNT = 4
# Bytes fetched per request from a remote file: bounds memory per open file (S3 ranged GETs).
REMOTE_BLOCK_BYTES = 8 << 20
# Read buffer in front of every remote stream (gzip asks for 8 KiB at a time).
READ_BUFFER_BYTES = 1 << 20


class ExportStoreError(Exception):
    """The export location cannot be listed or read (unreachable, refused, misconfigured).
    Not an OSError: the reader takes those for faults of the file itself."""


@dataclass(frozen=True)
class ExportLocation:
    """ERP_EXPORT_DIR and how to log in there. Secrets are left out of the repr; the URL itself
    may name a user but never a password (use `sftp_password`)."""

    url: str
    sftp_password: str | None = field(default=None, repr=False)
    sftp_key_file: str | None = None
    sftp_key_passphrase: str | None = field(default=None, repr=False)
    # known_hosts file holding the SFTP server's host key; unset: ~/.ssh/known_hosts
    sftp_known_hosts: str | None = None
    # S3-compatible store (MinIO, Ceph, ...); unset: AWS
    s3_endpoint_url: str | None = None
    # unset: botocore's own chain (profile, instance or task role)
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        values = (self.sftp_password, self.sftp_key_passphrase)
        values += (self.aws_secret_access_key, self.aws_session_token)
        return tuple(v for v in values if v)


@dataclass(frozen=True)
class ExportFile:
    """One file of the export location: what the reader opens. `str()` is its place as a
    person reads it (the local path, or the URL without credentials)."""

    store: ExportStore = field(repr=False, compare=False)
    path: str  # in the store's filesystem

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def open(self, mode: str = "rb") -> BinaryIO:
        if mode != "rb":
            raise ValueError(f"{self}: export files are only read (mode 'rb'), not {mode!r}")
        return self.store.open_binary(self.path)

    def __str__(self) -> str:
        return self.store.shown(self.path)


class ExportStore:
    """An opened export location. `connect` opens one from its URL (and logs in); `local`
    wraps a local folder. Close it (or use `with`) to hang up a remote connection."""

    def __init__(
        self,
        fs: AbstractFileSystem,
        root: str,
        *,
        shown_prefix: str = "",
        secrets: tuple[str, ...] = (),
        check: str = "",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.fs = fs
        self.root = root
        self._shown_prefix = shown_prefix  # what a person sees before a filesystem path
        self._secrets = secrets
        self._check = check  # what to check when it fails
        self._on_close = on_close

    @classmethod
    def local(cls, folder: Path | str) -> ExportStore:
        return cls(LocalFileSystem(), str(Path(folder).absolute()), check=_LOCAL_CHECK)

    @classmethod
    def connect(cls, location: ExportLocation) -> ExportStore:
        """The store at `location`; an SFTP server is connected to now, S3 on first use."""
        parts = _split(location.url)
        if parts is None:
            return cls.local(location.url)
        if parts.scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ExportStoreError(
                    f"ERP_EXPORT_DIR={location.url}: a file:// URL names a folder on this machine "
                    f"(file:///path/to/exports); use sftp:// or s3:// for another host"
                )
            return cls.local(parts.path)
        if parts.scheme == "sftp":
            return _sftp_store(location, parts)
        return _s3_store(location, parts)

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def __enter__(self) -> ExportStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what drops.py and the reader ask ------------------------------------------------------

    @property
    def location(self) -> str:
        """The export location as a person reads it (no credentials)."""
        return self.shown(self.root)

    def shown(self, path: str) -> str:
        return self._shown_prefix + path

    def folder(self, name: str) -> str:
        return posixpath.join(self.root, name)

    def dated_folders(self) -> list[tuple[dt.date, str]]:
        """Every folder named YYYY-MM-DD, oldest first, from ONE listing of the root (the
        sensor's cost per tick); none when the root does not exist (yet)."""
        found = []
        for name in self._entries(self.root, "directory"):
            try:
                day = dt.date.fromisoformat(name)
            except ValueError:
                continue
            found.append((day, self.folder(name)))
        return sorted(found)

    def success_marker_mtime(self, folder: str) -> float | None:
        """When the folder's `_SUCCESS` marker was written (Unix seconds); None when absent."""
        marker = posixpath.join(folder, SUCCESS_MARKER)
        with self._failures(f"looking for {self.shown(marker)}"):
            try:
                info = self.fs.info(marker)
            except FileNotFoundError:
                return None
        return _mtime(info, self.shown(marker)) if info["type"] == "file" else None

    def is_folder(self, path: str) -> bool:
        with self._failures(f"looking for {self.shown(path)}"):
            return bool(self.fs.isdir(path))

    def kind_files(self, folder: str, kind: FileKind) -> list[ExportFile]:
        """Files of one kind in a folder: `<kind>*.csv|.csv.gz|.xlsx`, in name order."""
        names = sorted(self._entries(folder, "file"))
        return [
            ExportFile(self, posixpath.join(folder, name))
            for name in names
            if name.lower().startswith(kind.value) and name.lower().endswith(SUFFIXES)
        ]

    def history_files(self, kind: FileKind = FileKind.DEMAND) -> list[ExportFile]:
        return self.kind_files(self.folder(HISTORY_DIR), kind)

    def open_binary(self, path: str) -> BinaryIO:
        """A buffered read-only stream of the file: bytes arrive as they are read, never the
        whole file at once."""
        with self._failures(f"opening {self.shown(path)}"):
            raw = self.fs.open(path, "rb", block_size=REMOTE_BLOCK_BYTES)
        return io.BufferedReader(_GuardedStream(raw, self, path), READ_BUFFER_BYTES)

    # --- internals ------------------------------------------------------------------------------

    def _entries(self, folder: str, kind: str) -> list[str]:
        """Names of the folder's entries of `kind` ("file" or "directory"), a symlink counted
        as what it points to: an ERP host often links a drop or the history folder in from
        elsewhere. fsspec's local filesystem lists a symlink as "other" and SFTP as "link"
        whatever it points to, so only those entries cost one more look-up each (a dangling
        link is neither and is left out)."""
        names = []
        for entry in self._listing(folder):
            path = entry["name"].rstrip("/")
            if entry["type"] not in ("file", "directory"):
                with self._failures(f"following the link {self.shown(path)}"):
                    target = self.fs.isdir(path) if kind == "directory" else self.fs.isfile(path)
                if not target:
                    continue
            elif entry["type"] != kind:
                continue
            names.append(posixpath.basename(path))
        return names

    def _listing(self, folder: str) -> list[dict[str, Any]]:
        with self._failures(f"listing {self.shown(folder)}"):
            try:
                return self.fs.ls(folder, detail=True)
            except FileNotFoundError:
                return []

    @contextmanager
    def _failures(self, doing: str) -> Iterator[None]:
        """Any failure of the filesystem, as ExportStoreError (a missing file stays
        FileNotFoundError); the cause is dropped so no library's text carries a secret."""
        try:
            yield
        except (FileNotFoundError, ExportStoreError):
            raise
        except Exception as exc:  # every protocol library raises its own kinds
            raise self.error(doing, exc) from None

    def error(self, doing: str, exc: BaseException) -> ExportStoreError:
        return _store_error(self.location, doing, exc, self._secrets, self._check)


class _GuardedStream(io.RawIOBase):
    """A remote file whose failures mid-read become ExportStoreError naming the file."""

    def __init__(self, raw: Any, store: ExportStore, path: str) -> None:
        self._raw = raw
        self._store = store
        self._path = path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._store._failures(f"reading {self._store.shown(self._path)}"):
            data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._store._failures(f"reading {self._store.shown(self._path)}"):
            return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


def _split(url: str) -> SplitResult | None:
    """The URL's parts, or None for a plain path. Refuses unknown schemes and passwords."""
    if "://" not in url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = _without_password(parts)
    if scheme not in SCHEMES:
        raise ExportStoreError(
            f"ERP_EXPORT_DIR={shown}: unsupported scheme {parts.scheme!r}; use a path, file://, "
            f"sftp://user@host:port/path or s3://bucket/prefix"
        )
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ExportStoreError(
            f"ERP_EXPORT_DIR={shown}: the port is not a number; use sftp://user@host:22/path"
        ) from None
    if parts.password is not None:
        raise ExportStoreError(
            f"ERP_EXPORT_DIR={shown}: the URL carries a password, which would then show in "
            f"logs and in the UI; remove it and set ERP_EXPORT_SFTP_PASSWORD (or use a key: "
            f"ERP_EXPORT_SFTP_KEY_FILE)"
        )
    return parts._replace(scheme=scheme)


def _without_password(parts: SplitResult) -> str:
    if parts.password is None:
        return parts.geturl()
    user_info, _, host_port = parts.netloc.rpartition("@")
    netloc = f"{user_info.split(':', 1)[0]}:***@{host_port}"
    return parts._replace(netloc=netloc).geturl()


def _sftp_store(location: ExportLocation, parts: SplitResult) -> ExportStore:
    import sshfs  # only a deployment on SFTP pays for the import

    if not parts.hostname:
        raise ExportStoreError(f"ERP_EXPORT_DIR={location.url}: no host; use sftp://user@host/path")
    shown_prefix = f"sftp://{parts.netloc}"
    root = parts.path.rstrip("/") or "."
    options: dict[str, Any] = {
        "port": parts.port or 22,
        # sshfs alone would accept any host key; () is asyncssh's default, ~/.ssh/known_hosts
        "known_hosts": location.sftp_known_hosts or (),
        "connect_timeout": CONNECT_TIMEOUT_S,
        "keepalive_interval": SSH_KEEPALIVE_S,
        "keepalive_count_max": SSH_KEEPALIVE_COUNT,
        "skip_instance_cache": True,
    }
    if parts.username:
        options["username"] = parts.username
    if location.sftp_password:
        options["password"] = location.sftp_password
    if location.sftp_key_file:
        options["client_keys"] = [location.sftp_key_file]
    if location.sftp_key_passphrase:
        options["passphrase"] = location.sftp_key_passphrase
    try:
        fs = sshfs.SSHFileSystem(parts.hostname, **options)
    except Exception as exc:  # asyncssh, OS and timeout errors alike
        raise _store_error(
            shown_prefix + root, "connecting", exc, location.secrets, _SFTP_CHECK
        ) from None
    return ExportStore(
        fs,
        root,
        shown_prefix=shown_prefix,
        secrets=location.secrets,
        check=_SFTP_CHECK,
        on_close=lambda: _close_ssh(fs),
    )


def _close_ssh(fs: Any) -> None:
    from fsspec.asyn import sync

    async def close() -> None:
        fs.client.close()
        await fs.client.wait_closed()

    sync(fs.loop, close, timeout=CONNECT_TIMEOUT_S)


def _s3_store(location: ExportLocation, parts: SplitResult) -> ExportStore:
    import s3fs  # only a deployment on S3 pays for the import

    if not parts.netloc:
        raise ExportStoreError(f"ERP_EXPORT_DIR={location.url}: no bucket; use s3://bucket/prefix")
    fs = s3fs.S3FileSystem(
        key=location.aws_access_key_id,
        secret=location.aws_secret_access_key,
        token=location.aws_session_token,
        endpoint_url=location.s3_endpoint_url,
        skip_instance_cache=True,
        use_listings_cache=False,  # every tick sees the bucket as it is now
        config_kwargs={
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": READ_TIMEOUT_S,
            "retries": {"max_attempts": 3, "mode": "standard"},
        },
    )
    root = (parts.netloc + parts.path).rstrip("/")
    return ExportStore(fs, root, shown_prefix="s3://", secrets=location.secrets, check=_S3_CHECK)


def _mtime(info: dict[str, Any], shown: str) -> float:
    """Modification time in Unix seconds, whatever the filesystem calls it."""
    for key in ("mtime", "LastModified", "last_modified", "modified"):
        value = info.get(key)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if value is not None:
            return float(value)
    raise ExportStoreError(f"{shown}: the server gives no modification time for this file")


def _store_error(
    shown: str, doing: str, exc: BaseException, secrets: tuple[str, ...], check: str
) -> ExportStoreError:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    return ExportStoreError(
        f"cannot read the ERP export location {shown} ({doing}): {text}; check {check}"
    )


_LOCAL_CHECK = "that ERP_EXPORT_DIR exists and this process may read it"
_SFTP_CHECK = (
    "that the SFTP server is up and reachable at that host and port, the user in "
    "ERP_EXPORT_DIR, ERP_EXPORT_SFTP_PASSWORD or ERP_EXPORT_SFTP_KEY_FILE (and "
    "ERP_EXPORT_SFTP_KEY_PASSPHRASE for an encrypted key), that the server's host key is in "
    "ERP_EXPORT_SFTP_KNOWN_HOSTS (default ~/.ssh/known_hosts), and that the user may read the path"
)
_S3_CHECK = (
    "the bucket and prefix in ERP_EXPORT_DIR, ERP_EXPORT_S3_ENDPOINT_URL for an S3-compatible "
    "store, the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or "
    "the machine's role), AWS_DEFAULT_REGION, and that they may list and read the prefix"
)


def as_export_store(location: ExportStore | Path) -> ExportStore:
    """An ExportStore as is, or a local folder wrapped as one (tests, bench, the demo)."""
    return location if isinstance(location, ExportStore) else ExportStore.local(location)
