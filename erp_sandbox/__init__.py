"""A local imitation of Paqtana, Pixee PIM and Pattern PXM for end-to-end tests and a
credential-less demo. Pure Python (Starlette + uvicorn + SQLite); no Dagster.

    with run_sandbox() as sandbox:
        sandbox.paqtana_url, sandbox.pixee_url, sandbox.pxm_url  # base URLs on 127.0.0.1
        sandbox.add_fault(kind="status", vendor="pixee", status=503)
        sandbox.historical_demand()
"""

from erp_sandbox.app import Sandbox
from erp_sandbox.clock import Clock, ManualClock
from erp_sandbox.config import (
    PaqtanaConfig,
    PixeeConfig,
    PxmCatalog,
    PxmConfig,
    SandboxConfig,
    default_pxm_catalog,
)
from erp_sandbox.faults import FaultRule
from erp_sandbox.server import HOST, run_sandbox, serve_forever

__all__ = [
    "HOST",
    "Clock",
    "FaultRule",
    "ManualClock",
    "PaqtanaConfig",
    "PixeeConfig",
    "PxmCatalog",
    "PxmConfig",
    "Sandbox",
    "SandboxConfig",
    "default_pxm_catalog",
    "run_sandbox",
    "serve_forever",
]
