"""Run the reliability scenarios (tests/reliability) and the crash-at-every-boundary test of the
sync engine (tests/sync), and print their figures: faults injected and survived, rows in / sent
/ rejected / lost, and duplicates, per scenario and in total; then the boundary table (where the
engine was killed, what the vendor held after the immediate re-run).

    .venv/bin/python scripts/reliability_report.py                  # run the scenarios, print
    .venv/bin/python scripts/reliability_report.py --figures F.jsonl  # print what a run wrote

A scenario counts as survived when its end state (after the re-runs a person would make on the
run's error message) lost no row and sent none twice. Exit status 1 when the tests failed or
any row was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The variable tests/reliability/figures.py (FIGURES_ENV) appends one JSON line per scenario to.
FIGURES_ENV = "RELIABILITY_FIGURES"
# The file tests/sync/test_crash_every_boundary.py writes its table to.
BOUNDARY_TABLE_ENV = "SYNC_BOUNDARY_TABLE"
COLUMNS = (
    ("scenario", "scenario"),
    ("faults_injected", "faults"),
    ("faults_survived", "survived"),
    ("rows_in", "rows in"),
    ("rows_sent", "sent"),
    ("rows_rejected", "rejected"),
    ("rows_lost", "lost"),
    ("duplicates", "duplicates"),
    ("runs", "runs"),
)
TOTALLED = [key for key, _ in COLUMNS[1:-1]]


def run_scenarios(figures: Path, boundaries: Path, pytest_args: list[str]) -> int:
    """pytest's exit status; the tests append their figures to `figures`."""
    command = [sys.executable, "-m", "pytest", "tests/reliability", "tests/sync", "-q"]
    env = os.environ | {FIGURES_ENV: str(figures), BOUNDARY_TABLE_ENV: str(boundaries)}
    return subprocess.run([*command, *pytest_args], cwd=ROOT, env=env, check=False).returncode


def load(figures: Path) -> list[dict]:
    if not figures.exists():
        return []
    return [json.loads(line) for line in figures.read_text().splitlines() if line.strip()]


def cell(row: dict, key: str) -> str:
    value = row[key]
    return " -> ".join(value) if isinstance(value, list) else str(value)


def table(rows: list[dict]) -> str:
    totals = {"scenario": "TOTAL", "runs": []} | {k: sum(r[k] for r in rows) for k in TOTALLED}
    body = [[cell(r, key) for key, _ in COLUMNS] for r in [*rows, totals]]
    header = [title for _, title in COLUMNS]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (0, len(cells) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, body[:-1]), rule, line(body[-1])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--figures", type=Path, help="print this figures file; run nothing")
    args, pytest_args = parser.parse_known_args(argv)
    status = 0
    if args.figures is None:
        folder = Path(tempfile.mkdtemp(prefix="reliability-"))
        figures = folder / "figures.jsonl"
        boundaries = folder / "boundaries.json"
        status = run_scenarios(figures, boundaries, pytest_args)
    else:
        figures = args.figures
        boundaries = figures.with_name("boundaries.json")
    rows = load(figures)
    if not rows:
        print(f"no figures in {figures}", file=sys.stderr)
        return 1
    print()
    print(table(rows))
    lost = sum(r["rows_lost"] for r in rows)
    duplicates = sum(r["duplicates"] for r in rows)
    not_survived = sum(r["faults_injected"] - r["faults_survived"] for r in rows)
    if boundaries.exists():
        print("\nthe sync engine killed at every boundary, then re-run at once:\n")
        print(json.loads(boundaries.read_text())["markdown"])
    print(f"\nfigures: {figures}")
    if status != 0 or lost or duplicates or not_survived:
        print(
            f"NOT RELIABLE: tests exit {status}, {lost} lost, {duplicates} duplicated, "
            f"{not_survived} fault(s) not survived"
        )
        return 1
    print("reliable: every injected fault survived, 0 rows lost, 0 sent twice")
    return 0


if __name__ == "__main__":
    sys.exit(main())
