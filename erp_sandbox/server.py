"""Serving the sandbox with uvicorn on 127.0.0.1 only: in a background thread for tests and the
demo (`run_sandbox`), or in the foreground for the CLI (`serve_forever`)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn

from erp_sandbox.app import Sandbox
from erp_sandbox.clock import Clock, system_clock
from erp_sandbox.config import SandboxConfig

# The only address the sandbox ever binds: it has no auth on /_sandbox/.
HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 10.0


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


def _server(sandbox: Sandbox, log_level: str, access_log: bool) -> uvicorn.Server:
    config = uvicorn.Config(
        sandbox.app,
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        # A slow fault stops when its client hangs up; this bounds shutdown if one does not.
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


@contextmanager
def run_sandbox(
    config: SandboxConfig | None = None,
    *,
    clock: Clock = system_clock,
    port: int = 0,
    log_level: str = "warning",
) -> Iterator[Sandbox]:
    """Serve a new Sandbox on 127.0.0.1 (a free port by default) until the block ends; the
    yielded object's `url` and `*_url` properties are the base URLs to give the clients."""
    sandbox = Sandbox(config, clock=clock)
    sock = _bind(port)
    server = _server(sandbox, log_level, access_log=False)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox-uvicorn", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        sandbox.url = f"http://{HOST}:{sock.getsockname()[1]}"
        yield sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)
        sock.close()
        sandbox.url = None
        sandbox.close()


def serve_forever(
    sandbox: Sandbox, port: int, on_bound: Callable[[Sandbox], None] | None = None
) -> None:
    """Serve in the foreground until interrupted: uvicorn shuts down on Ctrl-C or SIGTERM, then
    re-raises the Ctrl-C, which is the way a person stops it, not an error (no traceback).
    `on_bound` runs once the port is known, before serving starts."""
    sock = _bind(port)
    sandbox.url = f"http://{HOST}:{sock.getsockname()[1]}"
    if on_bound is not None:
        on_bound(sandbox)
    try:
        _server(sandbox, "info", access_log=True).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        sandbox.close()
