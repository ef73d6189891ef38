"""The JSON text of locations, codes and workspaces: byte for byte what orjson writes, whether a
text only needs its quotes (the fast path) or has characters JSON escapes."""

from __future__ import annotations

import random

import orjson

from pipelines.core.paqtana.demand_text import JsonTexts

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
