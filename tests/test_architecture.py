"""The pure core and the sandbox never import Dagster: they stay testable and reusable alone."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "pipelines"


def dagster_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found += [n for n in names if n.split(".")[0].startswith("dagster")]
        found += [n for n in names if n.startswith("pipelines.defs")]
    return found


def test_core_and_sandbox_do_not_import_dagster_or_the_dagster_layer():
    offenders = {
        str(p.relative_to(ROOT)): dagster_imports(p)
        for folder in ("core", "sandbox")
        for p in (ROOT / folder).rglob("*.py")
        if dagster_imports(p)
    }
    assert offenders == {}
