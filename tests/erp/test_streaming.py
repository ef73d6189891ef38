"""Streaming: blocks far smaller than the file give the same lines, errors and totals as
reading it whole (the file is cut into many Arrow blocks and many validation blocks here)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random

import numpy as np
import pandas as pd
import pytest

from pipelines.core.erp import reader, source
from pipelines.core.erp.contract import DEMAND
from pipelines.core.erp.extract import extract_demand
from pipelines.core.erp.mapping import FileDialect
from pipelines.core.erp.reader import ExportFileError, iter_text_blocks, read_export

HEADER = "date,location,code,quantity"


@pytest.fixture
def small_blocks(monkeypatch):
    """Arrow blocks of 4 KiB, validation blocks of 4 KiB, source chunks of 3 KiB."""
    monkeypatch.setattr(reader, "PARSE_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(source, "CHUNK_BYTES", 3072)


def messy_demand(rng: random.Random, rows: int) -> str:
    """Rows with quoted line breaks (\\n and \\r\\n), blank and whitespace lines, and rows with
    the wrong number of fields, spread over the whole file."""
    lines = [HEADER]
    for i in range(rows):
        roll = rng.random()
        code = f"SKU-{i % 97}"
        if roll < 0.05:
            lines.append("")
        elif roll < 0.08:
            lines.append("   ")
        elif roll < 0.12:
            lines.append(f"2026-11-21,WH-A,{code},1,extra")
        elif roll < 0.25:
            newline = rng.choice(["\n", "\r\n"])
            lines.append(f'2026-11-21,"WH{newline}A","{code}{newline}x{newline}y",{i % 5}')
        else:
            lines.append(f"2026-11-{20 + i % 2},WH-A,{code},{i % 7}")
    return "\n".join(lines) + "\n"


def oracle_lines(text: str) -> tuple[list[int], list[int]]:
    """Python's csv module as the reference: start line of each data row and of each row with
    the wrong number of fields (blank rows skipped)."""
    rows, malformed = [], []
    records = csv.reader(io.StringIO(text, newline=""))
    end = 0
    for i, record in enumerate(records):
        start, end = end + 1, records.line_num
        if i == 0 or all(not field.strip() for field in record):
            continue
        (rows if len(record) == 4 else malformed).append(start)
    return rows, malformed


def test_lines_stay_exact_across_many_small_blocks(tmp_path, small_blocks):
    text = messy_demand(random.Random(7), 3000)
    path = tmp_path / "demand.csv"
    path.write_bytes(text.encode())
    blocks = list(iter_text_blocks(path, DEMAND, FileDialect()))
    assert len(blocks) >= 10
    rows, malformed = oracle_lines(text)
    assert np.concatenate([b.lines for b in blocks]).tolist() == rows
    assert pd.concat([b.malformed for b in blocks]).line.tolist() == malformed
    whole = read_export(path, DEMAND, FileDialect())
    expected = [r for r in csv.reader(io.StringIO(text, newline="")) if len(r) == 4][1:]
    expected = [r for r in expected if any(f.strip() for f in r)]
    assert whole.frame[list(DEMAND.names)].values.tolist() == expected


@pytest.mark.parametrize(
    ("growth", "diagnosis"),
    [
        # blocks grow until the rest of the file fits in one: the quote runs to its end
        (
            64,
            "a quoted value opened on this line is never closed, so the rest of the file would "
            "be one value",
        ),
        # blocks of 4 KiB, then 16 KiB at most: the record outgrows the largest
        (
            4,
            "a record runs on for more than 32 KiB without ending; most likely a quoted value "
            "opened on this line is never closed",
        ),
    ],
)
def test_unclosed_quote_in_the_middle_of_a_large_file_names_its_line(
    tmp_path, small_blocks, monkeypatch, growth, diagnosis
):
    monkeypatch.setattr(reader, "MAX_BLOCK_GROWTH", growth)
    good = "2026-11-21,WH-A,SKU-1,1\n"
    path = tmp_path / "demand.csv"
    path.write_text(HEADER + "\n" + good * 500 + '2026-11-21,WH-A,"SKU-2,1\n' + good * 2000)
    with pytest.raises(ExportFileError) as raised:
        list(iter_text_blocks(path, DEMAND, FileDialect()))
    assert str(raised.value) == (
        f"{path}: line 502: {diagnosis}; close the quote, or write a quote inside a quoted value "
        f'as two quotes ("")'
    )


def test_a_closed_value_longer_than_the_parse_block_is_read(tmp_path, small_blocks):
    """Arrow needs a record within about two parse blocks: a longer one is read again with
    larger blocks, the rows before it handed out once."""
    good = "2026-11-21,WH-A,SKU-1,1\n"
    long_code = "L" * 20_000 + "\n" + "M" * 20_000  # 40 KB, ten parse blocks, one line break
    path = tmp_path / "demand.csv"
    path.write_text(
        HEADER
        + "\n"
        + good * 700
        + "2026-11-21,WH-A,1\n"
        + good * 10
        + f'2026-11-21,WH-A,"{long_code}",2\n'
        + good * 300
    )
    whole = read_export(path, DEMAND, FileDialect())
    lines = whole.frame["_line"].tolist()
    assert lines == list(range(2, 702)) + list(range(703, 713)) + [713] + list(range(715, 1015))
    assert whole.frame.code.tolist()[710] == long_code
    assert whole.malformed.line.tolist() == [702]


def test_bad_byte_after_many_chunks_names_its_offset_and_line(tmp_path, small_blocks):
    head = (HEADER + "\n" + "2026-11-21,WH-A,SKU-1,1\n" * 1000).encode()
    path = tmp_path / "demand.csv"
    path.write_bytes(head + "2026-11-21,WH-Ä,SKU-1,1\n".encode("latin-1"))
    where = rf"byte 0xc4 at offset {len(head) + 14} \(line 1002\)"
    with pytest.raises(ExportFileError, match=where):
        list(iter_text_blocks(path, DEMAND, FileDialect()))


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_characters_cut_by_chunk_boundaries_survive(tmp_path, small_blocks, encoding):
    name = "Lagerhaus-{}-日本" if encoding == "utf-8" else "Entrepôt-{}-é€ü"
    locations = [name.format(i) for i in range(400)]
    text = HEADER + "\n" + "".join(f"2026-11-21,{loc},SKU-1,1\n" for loc in locations)
    path = tmp_path / "demand.csv.gz"
    path.write_bytes(gzip.compress(text.encode(encoding)))
    frame = read_export(path, DEMAND, FileDialect(encoding=encoding)).frame
    assert frame.location.tolist() == locations
    assert frame["_line"].tolist() == list(range(2, 402))


def old_demand_totals(sources: list[tuple[pd.DataFrame, int]], start, end) -> pd.DataFrame:
    """The pre-streaming algorithm, kept here as the reference: all rows in memory, the
    highest priority wins per key, its order lines summed."""
    rows = pd.concat([frame.assign(_priority=p) for frame, p in sources], ignore_index=True)
    rows = rows[rows.date.between(pd.Timestamp(start), pd.Timestamp(end))]
    key = ["date", "location", "code"]
    winner = rows.groupby(key)["_priority"].transform("max")
    kept = rows[rows["_priority"] == winner]
    totals = kept.groupby(key, as_index=False)["quantity"].sum()
    totals.attrs["superseded"] = len(rows) - len(kept)
    return totals


def test_demand_totals_match_the_in_memory_algorithm(tmp_path, small_blocks, canonical):
    rng = np.random.default_rng(3)

    def demand(rows: int, first: str, days: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "date": pd.Timestamp(first) + pd.to_timedelta(rng.integers(0, days, rows), "D"),
                "location": rng.choice(["WH-B", "WH-A", "WH-C"], rows),
                "code": [f"SKU-{c}" for c in rng.integers(0, 60, rows)],
                "quantity": rng.integers(0, 9, rows) / 2,
            }
        )

    history = demand(4000, "2026-10-01", 50)  # unsorted, with many order lines per key
    drops = {
        dt.date(2026, 11, 18): demand(300, "2026-11-15", 4),
        dt.date(2026, 11, 19): demand(300, "2026-11-16", 4),
    }
    (tmp_path / "history").mkdir()
    history.to_csv(tmp_path / "history" / "demand_2026.csv", index=False, date_format="%Y-%m-%d")
    for day, frame in drops.items():
        folder = tmp_path / day.isoformat()
        folder.mkdir()
        frame.to_csv(folder / "demand.csv", index=False, date_format="%Y-%m-%d")
        (folder / "_SUCCESS").write_text("")
    sources = [(history, 0)] + [(f, d.toordinal()) for d, f in drops.items()]
    for start, end in [("2026-10-01", "2026-11-30"), ("2026-11-16", "2026-11-17")]:
        start, end = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        expected = old_demand_totals(sources, start, end)
        result = extract_demand(tmp_path, start, end, canonical)
        got = result.clean.astype({"location": str, "code": str})
        expected = expected.astype({"date": "datetime64[ns]", "location": str, "code": str})
        pd.testing.assert_frame_equal(got, expected)
        assert result.rows_superseded == expected.attrs["superseded"] > 0
        assert result.rows_clean_source + result.rows_superseded == result.rows_read
        assert isinstance(result.clean.location.dtype, pd.CategoricalDtype)


def test_one_day_of_a_long_history_keeps_only_that_day(tmp_path, canonical):
    (tmp_path / "history").mkdir()
    days = pd.date_range("2025-01-01", periods=400, freq="D")
    pd.DataFrame(
        {"date": days.repeat(3), "location": "WH-A", "code": ["A", "B", "C"] * 400, "quantity": 1}
    ).to_csv(tmp_path / "history" / "demand.csv", index=False, date_format="%Y-%m-%d")
    result = extract_demand(tmp_path, dt.date(2025, 6, 1), dt.date(2025, 6, 1), canonical)
    assert result.clean.date.dt.date.unique().tolist() == [dt.date(2025, 6, 1)]
    assert result.clean.code.tolist() == ["A", "B", "C"]
    assert result.rows_read == 3


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_line_breaks_are_counted_as_universal_newlines_across_chunks(chunk):
    """\\n, \\r\\n and a lone \\r each count once, also when a chunk ends between \\r and \\n."""
    rng = random.Random(chunk)
    data = "".join(rng.choice(["a", ",", "\n", "\r", "\r\n", '"']) for _ in range(2_000)).encode()
    counted, last = 0, b""
    for start in range(0, len(data), chunk):
        part = data[start : start + chunk]
        counted += source.count_line_breaks(part, after_cr=last == b"\r")
        last = part[-1:]
    assert counted == len(io.StringIO(data.decode(), newline=None).readlines()) - (
        0 if data.endswith((b"\n", b"\r")) else 1
    )
