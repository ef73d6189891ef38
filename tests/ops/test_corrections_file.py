"""Reading a corrections CSV: typed bodies per EAN, bad rows refused with the line, whole-file
problems refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.pixee.corrections import (
    Correction,
    CorrectionsFileError,
    Result,
    Status,
    read_corrections,
    write_results,
)
from tests.e2e.helpers import ean

A, B, C = ean(1), ean(2), ean(3)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fix.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_become_typed_bodies_and_empty_cells_are_left_out(tmp_path):
    path = write(
        tmp_path,
        "\ufeffean,name,weight,is_active,description\n"
        f"{A},Alpha 2,1.6,false,\n"
        f"{B},,2,TRUE,  <p>kept as written</p>\n",
    )
    parsed = read_corrections(path)
    assert parsed.fields == ("name", "weight", "is_active", "description")
    assert parsed.rows == [
        Correction(2, A, {"name": "Alpha 2", "weight": 1.6, "is_active": False}),
        Correction(
            3, B, {"weight": 2.0, "is_active": True, "description": "  <p>kept as written</p>"}
        ),
    ]


def test_bad_rows_are_refused_with_their_line_and_the_others_kept(tmp_path):
    path = write(
        tmp_path,
        "ean,status,weight\n"
        f"{A},inactive,heavy\n"
        "1234567890123,active,\n"
        f"{C},active,3.5\n"
        f"{B},archived,\n"
        f"{B},active,\n"
        f"{B},,\n",
    )
    assert read_corrections(path).rows == [
        Result(A, Status.INVALID, "line 2: weight must be a number, got 'heavy'"),
        Result(
            "1234567890123",
            Status.INVALID,
            "line 3: not a valid EAN-8/EAN-13: '1234567890123'",
        ),
        Correction(4, C, {"status": "active", "weight": 3.5}),
        Result(B, Status.INVALID, "EAN on lines 5, 6, 7; one correction per EAN"),
        Result(B, Status.INVALID, "EAN on lines 5, 6, 7; one correction per EAN"),
        Result(B, Status.INVALID, "EAN on lines 5, 6, 7; one correction per EAN"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,name\n1,x\n", "no 'ean' column"),
        ("ean,name,price\n", "unknown Pixee field(s) price"),
        ("ean,name,name\n", "column(s) named twice: name"),
        ("ean\n" + A + "\n", "no field column next to 'ean'"),
        ("ean,name\n\n", "has no rows"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_whole(tmp_path, text, message):
    with pytest.raises(CorrectionsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_corrections(write(tmp_path, text))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CorrectionsFileError, match="nope.csv does not exist"):
        read_corrections(tmp_path / "nope.csv")


def test_results_file_has_one_line_per_row(tmp_path):
    path = write_results(
        tmp_path / "corrections" / "run.csv",
        [Result(A, Status.UPDATED, "updated_at x"), Result(B, Status.NOT_FOUND, 'a "quoted", b')],
    )
    assert path.read_text().splitlines() == [
        "ean,status,message",
        f"{A},updated,updated_at x",
        f'{B},not_found,"a ""quoted"", b"',
    ]
