"""Shared fixtures: a small products frame in the clean contract's shape, and a fake clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.core.erp.contract import PRODUCTS, ColumnType

BASE_URL = "http://127.0.0.1:9/api/v1/ext"
API_KEY = "pm_test_s3cr3t-KEY-0001"
T0 = 1_780_000_000.0


def products_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A frame with every PRODUCTS column, text as pandas str, numbers as float64."""
    numbers = {c.name for c in PRODUCTS.columns if c.type is ColumnType.NUMBER}
    columns = {}
    for name in PRODUCTS.names:
        values = [row.get(name) for row in rows]
        if name in numbers:
            columns[name] = pd.array([np.nan if v is None else v for v in values], dtype="float64")
        else:
            columns[name] = pd.array(values, dtype="str")
    return pd.DataFrame(columns)


@pytest.fixture
def three_products() -> pd.DataFrame:
    """Full row; EAN-8 with blanks and NA in several spellings; sparse row with a zero depth."""
    frame = products_frame(
        [
            {
                "ean": "3760000000001",
                "name": "Support TV mural fixe",
                "brand_name": "KIMEX",
                "description": "<p>Acier</p>",
                "short_description": "Fixe 37-75 pouces",
                "supplier_code": "KIMEX",
                "reference": "KX-100",
                "status": "active",
                "weight": 1.5,
                "width": 60.0,
                "height": 40.0,
                "depth": 2.5,
                "unit_of_measure": "unit",
                "external_id": "ERP-1",
                "category_id": "7d1c1f8e-2f4b-4c1e-9a51-0c9f1d5e6a10",
                "upc": "012345678905",
                "gtin": "03760000000001",
                "asin": "B000000001",
                "url_slug": "support-tv",
            },
            {
                "ean": "96385074",
                "name": "Câble HDMI 2 m",
                "description": "",
                "status": "inactive",
                "weight": 0.2,
            },
            {"ean": "4006381333931", "name": "Stabilo", "reference": "   ", "depth": 0.0},
        ]
    )
    # NA spelt the other ways ingestion may leave it.
    frame["url_slug"] = pd.Series(["support-tv", None, np.nan], dtype=object)
    frame["brand_name"] = pd.Series(["KIMEX", pd.NA, None], dtype=object)
    return frame


class FakeClock:
    """Unix-seconds clock whose sleep advances time instead of waiting."""

    def __init__(self, start: float = T0) -> None:
        self.now = start
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
