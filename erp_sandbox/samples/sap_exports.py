"""A small SAP-dialect sample drop, read with `config/erp_mappings/sap_example.toml`.

`python -m erp_sandbox.samples.sap_exports [OUT_DIR]` rewrites it (default
`sample_data/sap_exports`): one complete drop of 24 materials in two plants, written the way
SAP writes its CSV exports (`;`, decimal comma, thousands dot, cp1252, `dd.mm.yyyy`, German
headers), with two rows the mapping refuses on purpose, so the rejects file shows SAP's reasons.
Deterministic: the same code always gives byte-identical files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
from pathlib import Path

from pipelines.core.erp.drops import SUCCESS_MARKER

DAY = dt.date(2026, 11, 20)  # a Friday: a business day under the default Mon-Fri calendar
PLANTS = ["WH-PARIS", "WH-LYON"]
N_MATERIALS = 24
SEED = 20261120
NAMES = ["Schraube für Holz", "Dübel grau", "Winkel verzinkt", "Mutter M8", "Scheibe Ø 10"]

ITEMS_HEADER = [
    "Werk", "Material", "Materialkurztext", "Materialart", "Basismengeneinheit", "Waehrung",
    "Standardpreis", "Mindestlosgroesse", "Rundungswert", "Planlieferzeit", "Frei verwendbar",
    "Transitbestand", "Offene Bestellungen",
]  # fmt: skip
PRODUCTS_HEADER = [
    "EAN/UPC", "Bezeichnung", "Marke", "Kurztext", "Lieferant", "Status", "Bruttogewicht",
    "Breite", "Hoehe", "Tiefe", "Basismengeneinheit", "Material",
]  # fmt: skip
DEMAND_HEADER = ["Buchungsdatum", "Werk", "Material", "Menge"]


def sap_number(value: float, decimals: int = 2) -> str:
    """1234.5 -> '1.234,50': SAP's German notation (thousands dot, decimal comma)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def sap_ean(n: int) -> str:
    from stdnum import ean as stdnum_ean

    body = f"400{n:09d}"
    return body + stdnum_ean.calc_check_digit(body)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = [";".join(header), *(";".join(row) for row in rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def generate(out_dir: Path, day: dt.date = DAY, seed: int = SEED) -> None:
    rng = random.Random(seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    folder = out_dir / day.isoformat()
    folder.mkdir(parents=True)
    items, products, demand = [], [], []
    for n in range(1, N_MATERIALS + 1):
        material = f"MAT-{n:04d}"
        name = f"{NAMES[n % len(NAMES)]} {n}"
        for plant in PLANTS:
            items.append(
                [plant, material, name, "HAWA", "ST", "EUR",
                 sap_number(rng.uniform(0.2, 1800)), str(rng.choice([1, 10, 100])), "1",
                 str(rng.choice([3, 7, 14])), sap_number(rng.randint(0, 2500), 0), "0",
                 str(rng.randint(0, 40))]
            )  # fmt: skip
            for back in range(3):
                if rng.random() < 0.5:
                    booked = (day - dt.timedelta(days=back)).strftime("%d.%m.%Y")
                    demand.append([booked, plant, material, sap_number(rng.randint(1, 30), 0)])
        products.append(
            [sap_ean(n), name, "HEIMWERK", name, "LIEF-01", "active",
             sap_number(rng.uniform(0.01, 2.5), 3), sap_number(rng.uniform(1, 40), 1),
             sap_number(rng.uniform(1, 40), 1), sap_number(rng.uniform(1, 40), 1), "ST", material]
        )  # fmt: skip
    # Refused on purpose: a point-decimal price, and a date SAP never writes.
    items.append(["WH-PARIS", "MAT-9001", "Falsch formatiert", "HAWA", "ST", "EUR", "1,234.50",
                  "1", "1", "7", "5", "0", "0"])  # fmt: skip
    demand.append(["2026-11-20", "WH-LYON", "MAT-0001", "3"])
    _write(folder / "items.csv", ITEMS_HEADER, items)
    _write(folder / "products.csv", PRODUCTS_HEADER, products)
    _write(folder / "demand.csv", DEMAND_HEADER, demand)
    (folder / SUCCESS_MARKER).write_text("")


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="sample_data/sap_exports", type=Path)
    args = parser.parse_args()
    generate(args.out_dir)
    print(f"SAP-dialect sample written to {args.out_dir} (one drop, {DAY})")


if __name__ == "__main__":
    _main()
