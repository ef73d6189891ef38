"""The demand history CSV the benches generate: one line per (day, series) drawn by the caller,
written with Arrow's CSV writer (a Python loop over 10M lines would take minutes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np


def write_history_csv(
    path: Path,
    day: np.ndarray,
    pair: np.ndarray,
    units: np.ndarray,
    half: np.ndarray,
    *,
    first_day: dt.date,
    days: int,
    locations: list[str],
    products: int,
) -> Path:
    """Lines `date,location,code,quantity`: `day` offsets from `first_day`, `pair` a series
    (location * products + product), `units` with `.5` where `half`. Written whole or not at
    all (a temporary name, then renamed)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    calendar = pa.array([(first_day + dt.timedelta(days=d)).isoformat() for d in range(days)])
    codes = pa.array([f"SKU-{p:06d}" for p in range(products)])
    table = pa.table(
        {
            "date": calendar.take(pa.array(day)),
            "location": pa.array(locations).take(pa.array(pair // products)),
            "code": codes.take(pa.array(pair % products)),
            "quantity": pa.array(np.where(half, np.char.add(units.astype(str), ".5"), units)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(b"date,location,code,quantity\n")
        options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        pa_csv.write_csv(table, out, options)
    tmp.replace(path)
    return path
