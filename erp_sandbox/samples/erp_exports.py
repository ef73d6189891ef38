"""Deterministic sample ERP exports: a year of demand history, a few daily drops, a few bad rows.

`python -m erp_sandbox.samples.erp_exports [OUT_DIR] [--last-day YYYY-MM-DD]` rewrites the
sample. The same seed and last day always give byte-identical files, so the committed sample
can be checked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from stdnum import ean as stdnum_ean

from pipelines.core.erp.drops import HISTORY_DIR, SUCCESS_MARKER

LOCATIONS = ["WH-PARIS", "WH-LYON", "WH-LILLE"]
BRANDS = ["KIMEX", "NORDLUX", "ATELIER", "VOLTA", "BRIXO"]
KINDS_OF_THING = ["Support TV", "Lampe", "Cable HDMI", "Chargeur", "Etagere", "Enceinte"]
DEFAULT_LAST_DAY = dt.date(2026, 11, 21)
N_ITEMS = 500
DAILY_DROPS = 4
SEED = 20261121


def sample_ean(n: int) -> str:
    body = f"376{n:09d}"
    return body + stdnum_ean.calc_check_digit(body)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.to_csv(index=False, lineterminator="\n")
    if path.name.endswith(".gz"):
        # mtime=0 keeps the gzip header, and so the file, identical run to run
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")


def _catalog(rng: random.Random) -> tuple[pd.DataFrame, pd.DataFrame]:
    products, items = [], []
    for i in range(1, N_ITEMS + 1):
        code = f"SKU-{i:05d}"
        thing = rng.choice(KINDS_OF_THING)
        brand = rng.choice(BRANDS)
        products.append(
            {
                "ean": sample_ean(i),
                "name": f"{thing} {brand} {i}",
                "brand_name": brand,
                "description": f"<p>{thing} de la marque {brand}, modele {i}.</p>",
                "short_description": f"{thing} {brand}",
                "supplier_code": brand,
                "reference": f"{brand[:3]}-{i:05d}",
                "status": "active",
                "weight": round(rng.uniform(0.1, 12), 2),
                "width": round(rng.uniform(5, 120), 1),
                "height": round(rng.uniform(2, 80), 1),
                "depth": round(rng.uniform(2, 60), 1),
                "unit_of_measure": "unit",
                "external_id": code,
                "category_id": "",
                "upc": "",
                "gtin": "",
                "asin": "",
                "url_slug": "",
            }
        )
        for location in rng.sample(LOCATIONS, rng.randint(1, 3)):
            items.append(
                {
                    "location": location,
                    "code": code,
                    "description": f"{thing} {brand} {i}",
                    "material_type": "FERT",
                    "unit_of_measure": "unit",
                    "currency": "EUR",
                    "unit_cost": round(rng.uniform(2, 400), 2),
                    "min_order_qty": rng.choice([1, 5, 10]),
                    "multiple_order_qty": rng.choice([1, 5, 10]),
                    "lead_time_days": rng.choice([3, 7, 14, 30]),
                    "on_hand": rng.randint(0, 500),
                    "in_transit": rng.randint(0, 50),
                    "open_orders": rng.randint(0, 40),
                }
            )
    return pd.DataFrame(products), pd.DataFrame(items).sort_values(["location", "code"])


def _demand(items: pd.DataFrame, days: list[dt.date], seed: int) -> pd.DataFrame:
    """Order lines: each series sells on ~30% of days, sometimes several lines a day."""
    gen = np.random.default_rng(seed)
    pairs = items[["location", "code"]].to_numpy()
    n_days = len(days)
    sells = gen.random((len(pairs), n_days)) < 0.3
    series_idx, day_idx = np.nonzero(sells)
    qty = gen.integers(1, 20, size=len(series_idx))
    frame = pd.DataFrame(
        {
            "date": [days[d].isoformat() for d in day_idx],
            "location": pairs[series_idx, 0],
            "code": pairs[series_idx, 1],
            "quantity": qty,
        }
    )
    # a tenth of the days carry a second order line for the same key: the ERP exports lines
    extra = frame.sample(frac=0.1, random_state=seed).assign(quantity=lambda f: f.quantity // 2 + 1)
    return pd.concat([frame, extra]).sort_values(["date", "location", "code"], kind="stable")


def _with_bad_rows(frame: pd.DataFrame, bad: list[dict]) -> pd.DataFrame:
    bad_rows = pd.DataFrame(bad).astype(str)
    return pd.concat([frame.astype(str), bad_rows], ignore_index=True).fillna("")


def generate(out_dir: Path, last_day: dt.date = DEFAULT_LAST_DAY, seed: int = SEED) -> None:
    """Rewrite out_dir: history/ (a year before the drops) and DAILY_DROPS complete drops ending
    at last_day, plus a drop for the next day without _SUCCESS (an ERP still writing)."""
    rng = random.Random(seed)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    products, items = _catalog(rng)
    first_drop = last_day - dt.timedelta(days=DAILY_DROPS - 1)
    history_days = [first_drop - dt.timedelta(days=d) for d in range(365, 0, -1)]
    history = _demand(items, history_days, seed)
    history = _with_bad_rows(
        history,
        [
            {"date": "2026-02-30", "location": "WH-PARIS", "code": "SKU-00001", "quantity": "3"},
            {
                "date": history_days[10].isoformat(),
                "location": "WH-LYON",
                "code": "SKU-00002",
                "quantity": "-4",
            },
        ],
    )
    _write_csv(
        history, out_dir / HISTORY_DIR / f"demand_{history_days[0]}_{history_days[-1]}.csv.gz"
    )
    for n in range(DAILY_DROPS + 1):
        day = first_drop + dt.timedelta(days=n)
        folder = out_dir / day.isoformat()
        day_items = items.copy()
        day_items["on_hand"] = [max(0, v - rng.randint(0, 5)) for v in day_items["on_hand"]]
        day_products = products.copy()
        if n >= 2:  # the catalog changes a little from day to day
            day_products.loc[n, "short_description"] = f"{day_products.loc[n, 'name']} (new)"
        _write_csv(
            _with_bad_rows(
                day_items,
                [
                    {
                        "location": "WH-PARIS",
                        "code": "SKU-99001",
                        "on_hand": "-3",
                        "unit_cost": "1.5",
                    },
                    {
                        "location": "WH-LYON",
                        "code": "SKU-99002",
                        "on_hand": "4",
                        "unit_cost": "abc",
                    },
                ],
            ),
            folder / "items.csv",
        )
        _write_csv(
            _with_bad_rows(
                day_products,
                [
                    {"ean": "3760000000001", "name": "Bad check digit"},
                    {
                        "ean": sample_ean(N_ITEMS + 1),
                        "brand_name": "KIMEX",
                    },  # new and nameless: Pixee refuses
                ],
            ),
            folder / "products.csv",
        )
        _write_csv(
            _with_bad_rows(
                _demand(items, [day], seed + n),
                [
                    {
                        "date": day.isoformat(),
                        "location": "WH-LILLE",
                        "code": "SKU-00003",
                        "quantity": "douze",
                    },
                ],
            ),
            folder / "demand.csv",
        )
        if day <= last_day:
            (folder / SUCCESS_MARKER).write_text("")


def dated_sample(out_dir: Path, last_day: dt.date) -> dt.date:
    """The same sample with its drops ending at `last_day` (rewritten only when that day
    changed), for `make demo` and `make ui`: the committed sample's fixed November days are
    older than the drop sensor's lookback, so it would never start a run on them. Returns the
    first daily drop's day."""
    stamp = out_dir.with_name(out_dir.name + ".last_day")
    if not (out_dir.is_dir() and stamp.is_file() and stamp.read_text() == last_day.isoformat()):
        generate(out_dir, last_day)
        # Written an hour ago, as an ERP would have: the sensor need not wait out the settle time.
        written = time.time() - 3600
        for marker in out_dir.glob(f"*/{SUCCESS_MARKER}"):
            os.utime(marker, (written, written))
        stamp.write_text(last_day.isoformat())
    return last_day - dt.timedelta(days=DAILY_DROPS - 1)


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="sample_data/erp_exports", type=Path)
    parser.add_argument("--last-day", type=dt.date.fromisoformat, default=DEFAULT_LAST_DAY)
    args = parser.parse_args()
    generate(args.out_dir, args.last_day)
    print(f"sample ERP exports written to {args.out_dir} (last complete drop {args.last_day})")


if __name__ == "__main__":
    _main()
