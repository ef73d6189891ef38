"""The pure core and the sandbox never import Dagster, and the runtime package never imports the
development tools: the core stays testable alone, and a deployment needs no sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def offenders(folders: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            bad = [m for m in imported_modules(path) if m.startswith(forbidden)]
            if bad:
                found[str(path.relative_to(ROOT))] = bad
    return found


def test_core_and_sandbox_do_not_import_dagster_or_the_dagster_layer():
    assert offenders(("pipelines/core", "erp_sandbox/samples"), ("dagster", "pipelines.defs")) == {}
    sandbox = [p for p in (ROOT / "erp_sandbox").glob("*.py") if p.name != "demo.py"]
    assert {
        str(p.relative_to(ROOT)): bad
        for p in sandbox
        if (bad := [m for m in imported_modules(p) if m.startswith(("dagster", "pipelines"))])
    } == {}


def test_the_runtime_package_never_imports_the_development_tools():
    assert offenders(("pipelines",), ("erp_sandbox", "starlette", "uvicorn")) == {}
