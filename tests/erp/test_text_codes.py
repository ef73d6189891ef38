"""Text columns keep their codes in the narrowest signed type for their distinct values: each row
still reads back the text it held, at every type boundary, and a demand file whose columns fall
on either side of them sums to the same totals as pandas."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.core.erp.extract import extract_demand
from pipelines.core.erp.mapping import load_mapping
from pipelines.core.erp.text_block import encode_text
from tests.conftest import CANONICAL_MAPPING


@pytest.mark.parametrize(
    ("distinct", "dtype"),
    [(1, np.int8), (128, np.int8), (129, np.int16), (32_768, np.int16), (32_769, np.int32)],
)
def test_each_row_reads_back_its_text_at_every_type_boundary(distinct: int, dtype: type) -> None:
    rng = np.random.default_rng(distinct)
    texts = [f"v{i}" for i in rng.integers(0, distinct, 3 * distinct)]
    texts += [f"v{i}" for i in range(distinct)]  # every value at least once
    plain = pa.array(texts, type=pa.string())

    for column in (plain, plain.dictionary_encode(), pa.chunked_array([plain[:5], plain[5:]])):
        encoded = encode_text(column)

        assert encoded.codes.dtype == dtype
        assert len(encoded.values) == distinct
        assert encoded.texts().tolist() == texts


def test_a_history_with_hundreds_of_quantities_and_thousands_of_codes_sums_as_pandas(
    tmp_path,
) -> None:
    rng = np.random.default_rng(11)
    rows = 60_000
    frame = pd.DataFrame(
        {
            "date": pd.Timestamp("2026-03-01")
            + pd.to_timedelta(rng.integers(0, 40, rows), unit="D"),
            "location": [f"WH-{i}" for i in rng.integers(0, 3, rows)],
            "code": [f"SKU-{i:05d}" for i in rng.integers(0, 40_000, rows)],  # int32 codes
            "quantity": rng.integers(0, 300, rows) / 2,  # ~600 distinct: int16 codes
        }
    )
    history = tmp_path / "history"
    history.mkdir()
    frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(
        history / "demand.csv", index=False
    )
    mapping = load_mapping(CANONICAL_MAPPING)

    result = extract_demand(tmp_path, dt.date(2026, 3, 1), dt.date(2026, 4, 9), mapping)

    expected = (
        frame.groupby(["date", "location", "code"], as_index=False)["quantity"]
        .sum()
        .sort_values(["date", "location", "code"], ignore_index=True)
    )
    got = result.clean.astype({"location": str, "code": str, "date": "datetime64[ns]"})
    pd.testing.assert_frame_equal(got, expected.astype({"date": "datetime64[ns]"}))
    assert result.rows_clean_source == rows and result.rejects.empty
