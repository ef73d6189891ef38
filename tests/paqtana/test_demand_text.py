"""The JSON text of locations, codes and workspaces: byte for byte what orjson writes, whether a
text only needs its quotes (the fast path) or has characters JSON escapes. Quantities: each
distinct one coded once."""

from __future__ import annotations

import random

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.core.paqtana.demand_text import JsonTexts, encode_quantities

# Characters JSON escapes, and some it does not (DEL, non-ASCII, the line separators).
ALPHABET = ["a", "Z", "0", '"', "\\", "\x00", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "/", " "]
ALPHABET += ["\t", "\n"]


def test_texts_are_written_as_orjson_writes_them() -> None:
    rng = random.Random(1)
    values: list[object] = [
        "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(5_000)
    ]
    values += ["SKU-000001", 5, 1.5, None]

    json = JsonTexts.of(values)

    expected = [orjson.dumps(str(v)).decode() for v in values]
    assert json.texts.to_pylist() == expected
    assert json.sizes.tolist() == [len(text.encode()) for text in expected]


def test_texts_that_need_no_escape_are_only_quoted() -> None:
    json = JsonTexts.of(["WH-01", "SKU 7", "Bäckerei"])

    assert json.texts.to_pylist() == ['"WH-01"', '"SKU 7"', '"Bäckerei"']
    assert json.sizes.tolist() == [7, 7, 11]


def test_quantities_are_coded_a_slice_at_a_time_as_one_dictionary_encode_would() -> None:
    """Codes into the distinct quantities in first-seen order (-0.0 apart from 0.0, NaN one
    value), the same whichever slice a value first shows up in."""
    rng = np.random.default_rng(3)
    quantity = rng.integers(0, 40, 10_000) / 2
    quantity[[7, 4_000]] = [-0.0, 1e9]  # a value first seen in a later slice
    quantity[[9, 5_555]] = [np.nan, np.inf]  # refused later, but coded all the same

    codes, texts = encode_quantities(quantity, rows_per_slice=1_000)

    expected = pc.dictionary_encode(pa.array(quantity))
    assert codes.dtype == np.uint8
    assert codes.tolist() == expected.indices.to_pylist()
    assert texts.to_pylist() == expected.dictionary.cast(pa.string()).to_pylist()
    assert texts.to_pylist()[int(codes[7])] == "-0"


def test_quantities_mostly_distinct_are_kept_as_values() -> None:
    quantity = np.arange(1_000) / 7

    codes, texts = encode_quantities(quantity)

    assert texts is None
    assert codes is quantity
