"""`python -m erp_sandbox --port 8765 [--db PATH] [--pxm-catalog JSON] [--faults JSON]`:
serve the three vendor imitations on 127.0.0.1 until interrupted. It prints the `export` lines
that point the pipeline at it (base URLs, org, the sandbox's own throwaway credentials), ready
to paste into another shell; `--print-env` prints only those and exits (for `eval`)."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from erp_sandbox.app import Sandbox
from erp_sandbox.config import PxmCatalog, PxmConfig, SandboxConfig
from erp_sandbox.control import parse_fault_rules
from erp_sandbox.demo import sandbox_environment
from erp_sandbox.server import HOST, serve_forever


def build_config(args: argparse.Namespace) -> SandboxConfig:
    config = SandboxConfig(storage=args.db)
    if args.pxm_catalog:
        config.pxm = PxmConfig(catalog=PxmCatalog.from_json_file(args.pxm_catalog))
    if args.faults:
        config.faults = parse_fault_rules(json.loads(Path(args.faults).read_text("utf-8")))
    return config


def export_lines(sandbox: Sandbox) -> list[str]:
    """`export NAME=value` for every setting the pipeline needs to use this sandbox. The
    credentials are the sandbox's demo ones (SandboxConfig defaults): they open nothing else."""
    env = sandbox_environment(sandbox, sandbox.config)
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def announce(sandbox: Sandbox) -> None:
    config = sandbox.config
    lines = [
        f"# erp-sync sandbox on {HOST} (Ctrl-C to stop); state: {config.storage}",
        f"# Paqtana org {config.paqtana.org}; requests seen: {sandbox.url}/_sandbox/requests",
        "# In another shell (in the project folder, venv active), paste:",
        *export_lines(sandbox),
    ]
    print("\n".join(lines), flush=True)


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
    parser.add_argument(
        "--print-env", action="store_true", help="print the export lines for --port and exit"
    )
    args = parser.parse_args(argv)
    if args.print_env:
        sandbox = Sandbox(SandboxConfig())
        sandbox.url = f"http://{HOST}:{args.port}"
        print("\n".join(export_lines(sandbox)))
        sandbox.close()
        return
    if args.db != ":memory:":
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    serve_forever(Sandbox(build_config(args)), args.port, on_bound=announce)


if __name__ == "__main__":
    main()
