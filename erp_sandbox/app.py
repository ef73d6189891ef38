"""The sandbox as one object: config, state, the three vendors, faults, and the ASGI app that
serves them. Tests in the same process use its methods; tests over HTTP use the same things
under `/_sandbox/`."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from erp_sandbox import control, paqtana, pixee, pxm
from erp_sandbox.clock import Clock, system_clock
from erp_sandbox.config import SandboxConfig
from erp_sandbox.faults import FaultBook, FaultRule
from erp_sandbox.gateway import ErrorShape, Gateway, vendor_of
from erp_sandbox.store import SandboxStore
from erp_sandbox.wire import Answer


class Sandbox:
    """Paqtana, Pixee and PXM imitations sharing one store. `app` is the ASGI app to serve;
    `url` is set while `run_sandbox` (or the CLI) serves it."""

    def __init__(self, config: SandboxConfig | None = None, *, clock: Clock = system_clock):
        self.config = config or SandboxConfig()
        self.clock = clock
        self.store = SandboxStore(self.config.storage)
        self.faults = FaultBook(self.config.faults)
        self.paqtana = paqtana.PaqtanaService(self.config.paqtana, self.store, clock)
        self.pixee = pixee.PixeeService(self.config.pixee, self.store, clock)
        self.pxm = pxm.PxmService(self.config.pxm, clock)
        self.url: str | None = None
        self.app = self._build_app()

    # Base URLs, as the pipeline's clients take them -------------------------------------------

    def _served_url(self) -> str:
        if self.url is None:
            raise RuntimeError("the sandbox is not being served; use run_sandbox()")
        return self.url

    @property
    def paqtana_url(self) -> str:
        return self._served_url()

    @property
    def pixee_url(self) -> str:
        return self._served_url() + pixee.PATH_PREFIX

    @property
    def pxm_url(self) -> str:
        return self._served_url()

    # Control ---------------------------------------------------------------------------------

    def add_fault(self, rule: FaultRule | dict[str, Any] | None = None, **fields: Any) -> FaultRule:
        """Arm a rule: `add_fault(kind="status", vendor="pixee", status=503, times=2)`."""
        if rule is None:
            rule = FaultRule.from_dict(fields)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict({**rule, **fields})
        self.faults.add(rule)
        return rule

    def clear_faults(self) -> None:
        self.faults.clear()

    def active_faults(self) -> list[dict[str, Any]]:
        return self.faults.active()

    def reset(self) -> None:
        """Forget all state, faults, logs, rate-limit windows and issued tokens."""
        self.store.reset()
        self.faults.clear()
        self.pixee.limiter.reset()
        self.pxm.tokens.expire_all()

    def close(self) -> None:
        self.store.close()

    # Inspection ------------------------------------------------------------------------------

    def requests(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """Every vendor request received (not /_sandbox/ calls), oldest first: time (ISO),
        unix_time, vendor, method, path, query, status (None when the connection was dropped),
        body_bytes (the declared Content-Length when a 413 refused it unread), fault (kind)."""
        return self.store.requests(vendor)

    def master_inventory(self) -> list[dict[str, Any]]:
        return self.store.inventory()

    def historical_demand(self) -> list[dict[str, Any]]:
        """Merged points: {location, code, workspaceCode, date, quantity}."""
        return self.store.demand()

    def demand_posts(self) -> list[dict[str, Any]]:
        """One entry per accepted demand POST: rows, points, bytes, auto_calculate, query."""
        return self.store.demand_posts()

    def pixee_products(self) -> list[dict[str, Any]]:
        records, _ = self.store.products()
        return [pixee.public_record(r) for r in records]

    def pxm_reads(self) -> list[dict[str, Any]]:
        """GET requests per UTC day per PXM endpoint."""
        return self.store.read_counts("pxm", pxm.READ_ENDPOINTS)

    # Wiring ----------------------------------------------------------------------------------

    def _error_shapes(self) -> dict[str, ErrorShape]:
        return {
            "paqtana": paqtana.error_for_path,
            "pixee": lambda path, status, message, retry_after: pixee.error_for_path(
                self.clock(), status, message, retry_after
            ),
            "pxm": pxm.error_for_path,
        }

    def _build_app(self) -> Gateway:
        shapes = self._error_shapes()

        async def http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            shape = shapes.get(vendor_of(request.url.path))
            if shape is None:
                answer = Answer(exc.status_code, {"detail": exc.detail})
            else:
                answer = shape(request.url.path, exc.status_code, exc.detail, None)
            answer.headers.update(exc.headers or {})
            return answer.to_response()

        run = run_in_threadpool
        starlette_app = Starlette(
            routes=[
                *paqtana.routes(self.paqtana, run),
                *pixee.routes(self.pixee, run),
                *pxm.routes(self.pxm, run),
                *control.routes(self, run),
            ],
            exception_handlers={HTTPException: http_error},
        )
        return Gateway(
            starlette_app,
            faults=self.faults,
            store=self.store,
            clock=self.clock,
            error_shapes=shapes,
            body_caps={"paqtana": self.config.paqtana.max_body_bytes},
            expire_tokens=self.pxm.tokens.expire_all,
        )
