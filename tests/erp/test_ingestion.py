"""ERP ingestion: dialects, file-level errors that name file/place/fix, row rejects that lose
nothing."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.erp import reader
from pipelines.core.erp.contract import DEMAND, ITEMS, PRODUCTS, FileKind
from pipelines.core.erp.drops import DropNotReadyError
from pipelines.core.erp.extract import extract_demand, extract_snapshot
from pipelines.core.erp.mapping import FileDialect, MappingError, load_mapping
from pipelines.core.erp.reader import ExportFileError, read_export_file
from pipelines.core.erp.validate import parse_numbers, validate_rows

DAY = dt.date(2026, 11, 21)
ITEMS_HEADER = ",".join(ITEMS.names)


def drop(root: Path, day: dt.date = DAY, complete: bool = True, **files: str | bytes) -> Path:
    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name.replace("_csv_gz", ".csv.gz").replace("_csv", ".csv")
        if path.name.endswith(".gz"):
            path.write_bytes(
                gzip.compress(content.encode() if isinstance(content, str) else content)
            )
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if complete:
        (folder / "_SUCCESS").write_text("")
    return folder


def test_sap_dialect_reads_semicolons_decimal_commas_cp1252_and_german_dates(tmp_path, sap):
    items = (
        "Werk;Material;Materialkurztext;Standardpreis;Frei verwendbar;Planlieferzeit\n"
        "WH-PARIS;M-1;Schraube für Holz;1.234,50;12;7\n"
    ).encode("cp1252")
    demand = (
        "Buchungsdatum;Werk;Material;Menge\n21.11.2026;WH-PARIS;M-1;2,5\n20261121;WH-PARIS;M-1;1\n"
    )
    drop(tmp_path, items_csv=items, demand_csv=demand.encode("cp1252"))
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, sap)
    row = result.clean.iloc[0]
    assert (row.location, row.code, row.description) == ("WH-PARIS", "M-1", "Schraube für Holz")
    assert row.unit_cost == 1234.5 and row.on_hand == 12 and row.lead_time_days == 7
    demand_result = extract_demand(tmp_path, DAY, DAY, sap)
    assert demand_result.clean.to_dict("records") == [
        {"date": pd.Timestamp(DAY), "location": "WH-PARIS", "code": "M-1", "quantity": 3.5}
    ]


def test_every_row_is_clean_or_rejected_on_a_messy_items_file(tmp_path, canonical):
    body = (
        "\n".join(
            [
                ITEMS_HEADER,
                "P,A,ok,,,,1.5,,,,10,,",
                "P,B,neg,,,,1.5,,,,-1,,",  # negative on_hand
                "P,C,nan,,,,abc,,,,5,,",  # unit_cost not a number
                ",D,nolocation,,,,1,,,,5,,",  # location missing
                "P,A,dup,,,,1,,,,5,,",  # duplicate key
                'P,E,"multi\nline",,,,2,,,,3,,',  # embedded newline: still one good row
                "P,F,late,,,,2,,,,x,,",  # on_hand not a number, after the multi-line row
            ]
        )
        + "\n"
    )
    drop(tmp_path, items_csv=body)
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert result.rows_read == 7
    assert len(result.clean) + result.rows_rejected == result.rows_read
    assert sorted(result.clean.code) == ["A", "E"]
    got = result.rejects[["line", "field", "reason"]].sort_values("line").to_dict("records")
    assert got == [
        {"line": 3, "field": "on_hand", "reason": "negative value not allowed"},
        {"line": 4, "field": "unit_cost", "reason": "not a number"},
        {"line": 5, "field": "location", "reason": "required value missing"},
        {"line": 6, "field": "location+code", "reason": "duplicate key, first seen on line 2"},
        {"line": 9, "field": "on_hand", "reason": "not a number"},
    ]
    assert result.rejects.file.str.endswith("items.csv").all()
    assert result.clean.loc[result.clean.code == "E", "description"].item() == "multi\nline"


def test_missing_required_column_names_file_column_and_fix(tmp_path, canonical):
    drop(tmp_path, items_csv="location,code,description\nP,A,x\n")
    with pytest.raises(ExportFileError) as err:
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    message = str(err.value)
    assert "items.csv" in message and "['on_hand']" in message and "rename" in message


def test_wrong_delimiter_is_named_with_the_fix(tmp_path, canonical):
    drop(tmp_path, items_csv="location;code;on_hand\nP;A;1\n")
    with pytest.raises(ExportFileError, match=r"set `delimiter = \";\"`"):
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)


def test_undecodable_bytes_name_offset_line_and_encoding_fix(tmp_path, canonical):
    drop(tmp_path, items_csv=f"{ITEMS_HEADER}\nP,A,Caf\xe9,,,,1,,,,1,,\n".encode("latin-1"))
    with pytest.raises(ExportFileError) as err:
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    message = str(err.value)
    assert "byte 0xe9" in message and "(line 2)" in message and "cp1252" in message
    assert f"offset {len(ITEMS_HEADER) + 1 + 7}" in message


@pytest.mark.parametrize("content", ["", "   \n"])
def test_empty_file_fails_with_the_file_name(tmp_path, canonical, content):
    drop(tmp_path, items_csv=content)
    with pytest.raises(ExportFileError, match=r"items\.csv: the file is empty"):
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)


def test_header_only_gives_an_empty_clean_frame(tmp_path, canonical):
    drop(tmp_path, items_csv=ITEMS_HEADER + "\n")
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert result.rows_read == 0 and result.clean.empty and result.rejects.empty


def test_utf8_bom_and_extra_columns_are_accepted(tmp_path, canonical):
    drop(tmp_path, items_csv="\ufefflocation,code,on_hand,erp_internal\nP,A,1,zzz\n")
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert result.clean[["location", "code", "on_hand"]].to_dict("records") == [
        {"location": "P", "code": "A", "on_hand": 1.0}
    ]
    assert "erp_internal" not in result.clean.columns


def test_gzip_csv_is_read(tmp_path, canonical):
    drop(tmp_path, items_csv_gz="location,code,on_hand\nP,A,1\n")
    assert len(extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical).clean) == 1


def test_drop_without_success_marker_is_never_read(tmp_path, canonical):
    drop(tmp_path, complete=False, items_csv="location,code,on_hand\nP,A,1\n")
    with pytest.raises(DropNotReadyError, match="_SUCCESS"):
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert extract_demand(tmp_path, DAY, DAY, canonical).clean.empty


def test_eans_check_digits_spaces_and_leading_zeros_lost_by_excel(tmp_path, canonical):
    body = (
        "\n".join(
            [
                "ean,name",
                "3760000000017,ok",  # valid EAN-13
                "376 0000 000024,spaces",  # valid once spaces are removed
                "12345670,ean8",  # valid EAN-8
                "40123455.0,excel float",  # an EAN-8 cell Excel wrote as a float
                "012345678905,upc-ish",  # 12 digits: a leading zero lost, 0012345678905 is valid
                "3760000000018,bad",  # wrong check digit
                "37600,short",  # too short even padded
                "37600000000AB,letters",
            ]
        )
        + "\n"
    )
    drop(tmp_path, products_csv=body)
    result = extract_snapshot(tmp_path, DAY, FileKind.PRODUCTS, canonical)
    assert dict(zip(result.clean.name, result.clean.ean, strict=True)) == {
        "ok": "3760000000017",
        "spaces": "3760000000024",
        "ean8": "12345670",
        "excel float": "40123455",
        "upc-ish": "0012345678905",
    }
    reasons = dict(zip(result.rejects.value, result.rejects.reason, strict=True))
    assert reasons == {
        "3760000000018": "invalid EAN check digit",
        "37600": "EAN must have 8 or 13 digits, got 5",
        "37600000000AB": "EAN must contain digits only",
    }


def test_xlsx_with_two_sheets_needs_the_kind_as_sheet_name(tmp_path, canonical):
    folder = drop(tmp_path)
    with pd.ExcelWriter(folder / "items.xlsx") as writer:
        pd.DataFrame({"notes": ["x"]}).to_excel(writer, sheet_name="README", index=False)
        pd.DataFrame({"location": ["P"], "code": ["A"], "on_hand": [3]}).to_excel(
            writer, sheet_name="Data", index=False
        )
    with pytest.raises(ExportFileError, match=r"2 sheets \['README', 'Data'\].*sheet = "):
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    with pd.ExcelWriter(folder / "items.xlsx") as writer:
        pd.DataFrame({"notes": ["x"]}).to_excel(writer, sheet_name="README", index=False)
        pd.DataFrame({"location": ["P"], "code": ["A"], "on_hand": [3]}).to_excel(
            writer, sheet_name="items", index=False
        )
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert result.clean[["code", "on_hand"]].to_dict("records") == [{"code": "A", "on_hand": 3.0}]


def test_demand_sums_order_lines_and_daily_drop_beats_history(tmp_path, canonical):
    history = tmp_path / "history"
    history.mkdir()
    (history / "demand_2026.csv").write_text(
        "date,location,code,quantity\n"
        "2026-11-20,P,A,100\n"  # replaced by the drop of 11-21 which restates 11-20
        "2026-11-20,P,B,7\n"  # kept: no drop gives P+B on 11-20
        "2026-11-19,P,A,1\n"
    )
    drop(
        tmp_path,
        demand_csv="date,location,code,quantity\n2026-11-21,P,A,2\n2026-11-21,P,A,3\n"
        "2026-11-20,P,A,4\n",
    )
    result = extract_demand(tmp_path, dt.date(2026, 11, 19), DAY, canonical)
    got = {(r.date.date().isoformat(), r.code): r.quantity for r in result.clean.itertuples()}
    assert got == {
        ("2026-11-19", "A"): 1,
        ("2026-11-20", "A"): 4,
        ("2026-11-20", "B"): 7,
        ("2026-11-21", "A"): 5,
    }
    assert result.rows_read == 6
    assert result.rows_superseded == 1
    assert result.rows_clean_source + result.rows_superseded + result.rows_rejected == 6


def test_demand_rejects_are_reported_by_exactly_one_partition(tmp_path, canonical):
    drop(tmp_path, demand_csv="date,location,code,quantity\n2026-11-21,P,A,-2\n31/11/2026,P,A,1\n")
    assert extract_demand(tmp_path, DAY, DAY, canonical).rows_rejected == 2
    assert (
        extract_demand(
            tmp_path, DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=1), canonical
        ).rows_rejected
        == 0
    )


def test_unknown_location_is_a_row_fault_when_there_is_no_default_workspace(tmp_path, canonical):
    drop(tmp_path, items_csv="location,code,on_hand\nP,A,1\nQ,A,1\n")
    result = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical, known_locations={"P"})
    assert list(result.clean.location) == ["P"]
    assert result.rejects.reason.tolist() == [
        "unknown location: not in the locations file and no default workspace"
    ]


def test_three_date_formats_in_one_mapping(canonical):
    from dataclasses import replace

    dialect = replace(
        canonical.dialect(FileKind.DEMAND), date_formats=("%Y-%m-%d", "%d/%m/%Y", "%Y%m%d")
    )
    raw = pd.DataFrame(
        {
            "date": ["2026-11-21", "21/11/2026", "20261121", "11-21-2026"],
            "location": "P",
            "code": "A",
            "quantity": "1",
            "_line": [2, 3, 4, 5],
        }
    )
    checked = validate_rows(raw, DEMAND, dialect, "demand.csv")
    assert checked.clean.date.dt.date.tolist() == [DAY] * 3
    assert checked.rejects.reason.tolist() == [
        "not a date in format %Y-%m-%d or %d/%m/%Y or %Y%m%d"
    ]


def test_reader_keeps_exact_source_lines(tmp_path, canonical):
    path = tmp_path / "products.csv"
    path.write_text('ean,name\n3760000000017,"a\nb\nc"\n\n3760000000024,d\n')
    frame = read_export_file(path, PRODUCTS, canonical.dialect(FileKind.PRODUCTS))
    assert frame["_line"].tolist() == [2, 6]


def test_sap_mapping_reads_the_same_export_as_csv_and_as_xlsx(tmp_path, sap):
    """The shipped SAP mapping: the CSV's text goes through its notation (decimal comma,
    thousands dot), the workbook's typed cells do not (1234.5 stays 1234.5, not 12345)."""
    header = ["Werk", "Material", "Materialkurztext", "Standardpreis", "Frei verwendbar"]
    rows = [["WH-PARIS", "M-1", "Schraube", 1234.5, 12], ["WH-PARIS", "M-2", "Dübel", 0.35, 1500]]
    csv_text = ";".join(header) + "\nWH-PARIS;M-1;Schraube;1.234,50;12\n"
    csv_text += "WH-PARIS;M-2;Dübel;0,35;1.500\n"
    csv_day, xlsx_day = DAY, DAY + dt.timedelta(days=1)
    drop(tmp_path, csv_day, items_csv=csv_text.encode("cp1252"))
    folder = drop(tmp_path, xlsx_day)
    pd.DataFrame(rows, columns=header).to_excel(folder / "items.xlsx", index=False)
    from_csv = extract_snapshot(tmp_path, csv_day, FileKind.ITEMS, sap).clean
    from_xlsx = extract_snapshot(tmp_path, xlsx_day, FileKind.ITEMS, sap).clean
    expected = [
        {"code": "M-1", "unit_cost": 1234.5, "on_hand": 12.0},
        {"code": "M-2", "unit_cost": 0.35, "on_hand": 1500.0},
    ]
    assert from_csv[["code", "unit_cost", "on_hand"]].to_dict("records") == expected
    assert from_xlsx[["code", "unit_cost", "on_hand"]].to_dict("records") == expected


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "value"),
    [
        ("1.234,50", ",", ".", 1234.5),
        ("1.234.567", ",", ".", 1234567.0),
        ("1 234,5", ",", ".", 1234.5),  # spaces group digits in any notation
        ("1\u00a0234,5", ",", "", 1234.5),
        ("-0,5", ",", ".", -0.5),
        ("1,5e3", ",", ".", 1500.0),
        ("12.34", ",", ".", None),  # a group of two digits
        ("1.2345", ",", ".", None),  # a group of four digits
        ("1,234.50", ",", ".", None),  # a thousands separator after the decimal one
        ("1,2,3", ",", ".", None),  # two decimal separators
        ("1.500", ",", "", None),  # a thousands separator the mapping does not declare
        ("12 34", ".", "", None),
        ("1,500", ".", ",", 1500.0),
        ("1,500", ".", "", None),
        ("1.", ".", "", None),
    ],
)
def test_numbers_are_read_strictly_in_the_declared_notation(text, decimal, thousands, value):
    parsed = parse_numbers(pd.Series([text]), FileDialect(decimal=decimal, thousands=thousands))
    assert pd.isna(parsed[0]) if value is None else parsed[0] == value, parsed[0]


def test_one_odd_value_in_a_long_column_is_a_row_fault_many_refuse_the_column(tmp_path, sap):
    header = "Buchungsdatum;Werk;Material;Menge\n"
    good = "".join(f"21.11.2026;WH-PARIS;M-{i};{i},5\n" for i in range(40))
    drop(tmp_path, demand_csv=(header + good + "21.11.2026;WH-PARIS;M-X;0.35\n").encode())
    result = extract_demand(tmp_path, DAY, DAY, sap)
    assert result.rejects[["line", "value"]].values.tolist() == [[42, "0.35"]]
    assert len(result.clean) == 40
    odd = "".join(f"21.11.2026;WH-PARIS;M-X{i};0.{i}5\n" for i in range(3))  # 3 of 43: 7 %
    drop(tmp_path, demand_csv=(header + good + odd).encode())
    with pytest.raises(ExportFileError, match=r"column 'quantity' is refused as a whole: 3 of 43"):
        extract_demand(tmp_path, DAY, DAY, sap)


def test_a_column_is_refused_as_soon_as_the_notation_is_contradicted_in_a_later_block(
    tmp_path, canonical, monkeypatch
):
    """The evidence of a file's blocks adds up: '1.500' in the first, '2,5' far later."""
    monkeypatch.setattr(reader, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(reader, "PARSE_BLOCK_BYTES", 4096)
    rows = ["location,code,unit_cost,on_hand", "P,A,1.500,1"]
    rows += [f"P,B{i},{i},1" for i in range(3000)] + ['P,C,"2,5",1']
    folder = drop(tmp_path, items_csv="\n".join(rows) + "\n")
    blocks = reader.iter_text_blocks(folder / "items.csv", ITEMS, canonical.dialect(FileKind.ITEMS))
    assert len(list(blocks)) > 5
    with pytest.raises(ExportFileError) as raised:
        extract_snapshot(tmp_path, DAY, FileKind.ITEMS, canonical)
    assert "line 3003: '2,5' looks like comma-decimal notation" in str(raised.value)
    assert "line 2 '1.500' read differently in the two notations (1.5 with" in str(raised.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('decimal = ","\nthousands = ","', "decimal and thousands are both ','"),
        ('decimal = ""', "decimal must be one character"),
        ('thousands = ".."', 'thousands must be one character or "" (none)'),
        ('split_files = "yes"', "split_files must be true or false"),
    ],
)
def test_mapping_refuses_notations_and_options_it_cannot_apply(tmp_path, table, message):
    path = tmp_path / "mapping.toml"
    path.write_text(f"[demand]\n{table}\n")
    with pytest.raises(MappingError, match=re.escape(message)):
        load_mapping(path)


def test_utf16_le_with_its_bom_under_a_utf16_le_mapping(tmp_path, canonical):
    from dataclasses import replace

    path = tmp_path / "items.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "location,code,on_hand\nP,A,1\n".encode("utf-16-le"))
    dialect = replace(canonical.dialect(FileKind.ITEMS), encoding="utf-16-le")
    assert read_export_file(path, ITEMS, dialect)[["location", "code"]].values.tolist() == [
        ["P", "A"]
    ]


def test_cp1252_text_is_not_mistaken_for_utf8(tmp_path, sap):
    """Only content that is valid UTF-8 is refused under a single-byte mapping: cp1252 letters
    are one byte followed by ASCII, which UTF-8 never is."""
    items = "Werk;Material;Materialkurztext;Frei verwendbar\nWH-PARIS;M-1;Größe für Dübel;1\n"
    drop(tmp_path, items_csv=items.encode("cp1252"))
    clean = extract_snapshot(tmp_path, DAY, FileKind.ITEMS, sap).clean
    assert clean.description.tolist() == ["Größe für Dübel"]
