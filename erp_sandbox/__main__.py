"""`python -m erp_sandbox --port 8765 [--db PATH] [--pxm-catalog JSON] [--faults JSON]`:
serve the three vendor imitations on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from erp_sandbox.app import Sandbox
from erp_sandbox.config import PxmCatalog, PxmConfig, SandboxConfig
from erp_sandbox.control import parse_fault_rules
from erp_sandbox.server import serve_forever


def build_config(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig(storage=args.db)
    if args.pxm_catalog:
        config.pxm = PxmConfig(catalog=PxmCatalog.from_json_file(args.pxm_catalog))
    if args.faults:
        config.faults = parse_fault_rules(json.loads(Path(args.faults).read_text("utf-8")))
    return config


def announce(sandbox: Sandbox) -> None:
    config = sandbox.config
    print("erp-sync sandbox on 127.0.0.1 (Ctrl-C to stop)", flush=True)
    print(f"  Paqtana base URL: {sandbox.paqtana_url}  (org {config.paqtana.org})", flush=True)
    print(f"  Pixee base URL:   {sandbox.pixee_url}", flush=True)
    print(f"  PXM base URL:     {sandbox.pxm_url}", flush=True)
    print(f"  control:          {sandbox.url}/_sandbox/requests", flush=True)
    print(f"  state:            {config.storage}", flush=True)
    print("  credentials:      SandboxConfig defaults (erp_sandbox/config.py)", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m erp_sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--db", default=":memory:", help="SQLite file that keeps state across restarts"
    )
    parser.add_argument(
        "--pxm-catalog", help='JSON file with "collections", "categories", "attributes"'
    )
    parser.add_argument("--faults", help="JSON file with fault rules armed at start")
    args = parser.parse_args(argv)
    serve_forever(Sandbox(build_config(args)), args.port, on_bound=announce)


if __name__ == "__main__":
    main()
