"""Real servers on 127.0.0.1 for the remote-drop tests, started and stopped by the tests.

SFTP: Debian's OpenSSH (`/usr/sbin/sshd`, package openssh-server) on a free loopback port with
its own config, a generated host key (pinned in a known_hosts file) and a generated client key
with a passphrase, for the current user, internal-sftp only (no shell, no forwarding).
S3: moto's server (`ThreadedMotoServer`) on a free loopback port, any credentials accepted.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.core.erp.export_store import ExportLocation

HOST = "127.0.0.1"
START_TIMEOUT_S = 15
SSHD = "/usr/sbin/sshd"
# Recognizable fake credentials: found in any log, event or file, they are a leak.
SFTP_KEY_PASSPHRASE = "SECRET-sftp-passphrase-4242"
S3_KEY_ID = "AKIAREMOTEDROPTEST"
S3_SECRET = "SECRET-s3-secret-key-8181"
LEAKABLE = (SFTP_KEY_PASSPHRASE, S3_SECRET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def require_sshd() -> str:
    """The OpenSSH server, or a skip (a failure on CI, where .ci/run installs it)."""
    if os.access(SSHD, os.X_OK):
        return SSHD
    reason = f"{SSHD} not found: apt-get install openssh-server"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it on CI")
    pytest.skip(reason)


@dataclass
class SftpServer:
    """A running sshd serving this machine's folders over SFTP to `user` with `key_file`."""

    port: int
    user: str
    key_file: Path
    known_hosts: Path
    process: subprocess.Popen
    log: Path

    def url(self, folder: Path) -> str:
        return f"sftp://{self.user}@{HOST}:{self.port}{folder}"

    def location(self, folder: Path, **changes: str | None) -> ExportLocation:
        return ExportLocation(
            url=self.url(folder),
            sftp_key_file=str(self.key_file),
            sftp_key_passphrase=SFTP_KEY_PASSPHRASE,
            sftp_known_hosts=str(self.known_hosts),
            **changes,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _keygen(path: Path, passphrase: str = "") -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def start_sftp_server(workdir: Path) -> SftpServer:
    sshd = require_sshd()
    if os.geteuid() == 0:  # root's sshd needs its privilege separation folder (tmpfiles.d's job)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    user = getpass.getuser()
    port = free_port()
    _keygen(workdir / "host_key")
    _keygen(workdir / "client_key", SFTP_KEY_PASSPHRASE)
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    host_key = (workdir / "host_key.pub").read_text().split()
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"[{HOST}]:{port} {host_key[0]} {host_key[1]}\n")
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {HOST}",
                f"Port {port}",
                f"HostKey {workdir / 'host_key'}",
                "PidFile none",
                f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",  # the test folders are not laid out as ~/.ssh would be
                "PermitRootLogin prohibit-password",
                f"AllowUsers {user}",
                "Subsystem sftp internal-sftp",
                "ForceCommand internal-sftp",
                "AllowTcpForwarding no",
                "X11Forwarding no",
                "PermitTTY no",
                "LogLevel INFO",
                "",
            ]
        )
    )
    log = workdir / "sshd.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stderr=stderr
        )
    server = SftpServer(port, user, workdir / "client_key", known_hosts, process, log)
    _wait_for_banner(server, b"SSH-")
    return server


def _wait_for_banner(server: SftpServer, banner: bytes) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"sshd exited ({server.process.returncode}):\n{server.log.read_text()}")
        try:
            with socket.create_connection((HOST, server.port), timeout=1) as sock:
                if sock.recv(16).startswith(banner):
                    return
        except OSError:
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"sshd did not answer in {START_TIMEOUT_S} s:\n{server.log.read_text()}")


@dataclass
class S3Server:
    """moto's S3 on loopback; `upload` copies a local folder to a new bucket."""

    endpoint_url: str
    server: object

    def location(self, url: str) -> ExportLocation:
        return ExportLocation(
            url=url,
            s3_endpoint_url=self.endpoint_url,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
        )

    def upload(self, folder: Path, prefix: str = "erp/exports") -> str:
        """A new bucket holding `folder`'s files under `prefix`; returns its s3:// URL."""
        import s3fs

        bucket = f"drops-{uuid.uuid4().hex[:12]}"
        fs = s3fs.S3FileSystem(
            key=S3_KEY_ID,
            secret=S3_SECRET,
            endpoint_url=self.endpoint_url,
            skip_instance_cache=True,
        )
        fs.mkdir(bucket)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            fs.put_file(str(path), f"{bucket}/{prefix}/{path.relative_to(folder).as_posix()}")
        return f"s3://{bucket}/{prefix}"

    def stop(self) -> None:
        self.server.stop()


def start_s3_server() -> S3Server:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    return S3Server(f"http://{HOST}:{port}", server)


def copy_tree(source: Path, target: Path) -> Path:
    """`source` copied to `target` keeping file times (the `_SUCCESS` age matters)."""
    shutil.copytree(source, target, copy_function=shutil.copy2)
    return target
