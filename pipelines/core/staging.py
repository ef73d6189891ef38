"""Clean frames and rejects on disk, one file per business day.

Assets write here instead of returning frames through an IO manager: a range run (a year of
demand in one backfill run) writes every day's file, and any later step, in any process, reads
exactly the days it needs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.core.atomic_file import atomic_path
from pipelines.core.free_memory import release_free_memory
from pipelines.core.rejects import REJECT_COLUMNS


class StagingMissingError(FileNotFoundError):
    pass


class StagingStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def day_path(self, dataset: str, day: dt.date) -> Path:
        return self.root / "staging" / dataset / f"{day.isoformat()}.parquet"

    def write_day(self, dataset: str, day: dt.date, frame: pd.DataFrame) -> Path:
        path = self.day_path(dataset, day)
        with atomic_path(path) as tmp:
            frame.to_parquet(tmp, index=False)
        return path

    def write_days(
        self,
        dataset: str,
        start: dt.date,
        end: dt.date,
        frame: pd.DataFrame,
        date_column: str = "date",
    ) -> list[Path]:
        """Split a frame by day and write every day of start..end, empty days included, each
        day's rows in the frame's order. A frame in day order (the extract writes it so) is
        cut into slices, one day at a time: no copy of the frame (a `groupby` holding every
        day's group at once, and a Python date per row, doubled a year's 140 MB frame)."""
        days = frame[date_column].to_numpy().astype("datetime64[D]")
        if not (days[1:] >= days[:-1]).all():
            order = np.argsort(days, kind="stable")
            frame, days = frame.iloc[order], days[order]
        paths = []
        day = start
        while day <= end:
            key = np.datetime64(day, "D")
            lo, hi = np.searchsorted(days, [key, key + 1])
            paths.append(self.write_day(dataset, day, frame.iloc[lo:hi]))
            day += dt.timedelta(days=1)
        return paths

    def read_day(self, dataset: str, day: dt.date) -> pd.DataFrame:
        path = self.day_path(dataset, day)
        if not path.exists():
            raise StagingMissingError(
                f"no staged {dataset} for {day} at {path}: materialize the upstream extract "
                f"for that day first"
            )
        return pd.read_parquet(path)

    def read_days(self, dataset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Every day of start..end as one frame, in day order. Read and joined as Arrow tables
        (categoricals' dictionaries unified), then converted once: a year's 365 files in 0.6 s
        rather than 2.5 s through one pandas frame a day and `pd.concat`."""
        paths = []
        day = start
        while day <= end:
            path = self.day_path(dataset, day)
            if not path.exists():
                self.read_day(dataset, day)  # raises StagingMissingError, naming the day
            paths.append(path)
            day += dt.timedelta(days=1)
        try:
            tables = [pq.read_table(path) for path in paths]
            table = pa.concat_tables(tables, promote_options="default").unify_dictionaries()
            del tables
            frame = table.to_pandas()
            del table
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # files whose types differ: as pandas does
            frame = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
        # Arrow's read buffers are freed: give their pages back, so a year's read holds its
        # 140 MB frame rather than 500 MB until the process ends.
        release_free_memory()
        return frame

    def rejects_path(self, asset: str, label: str) -> Path:
        return self.root / "rejects" / asset / f"{label}.csv"

    def write_rejects(self, asset: str, label: str, rejects: pd.DataFrame) -> Path:
        """Always writes the file (header only when nothing was refused), so its absence never
        has to be interpreted."""
        path = self.rejects_path(asset, label)
        with atomic_path(path) as tmp:
            rejects.reindex(columns=REJECT_COLUMNS).to_csv(tmp, index=False)
        return path
