"""Golden bodies for a small fixture: the exact bytes Paqtana receives, written out by hand."""

from __future__ import annotations

import hashlib

import numpy as np
import orjson
import pandas as pd
import pytest

from pipelines.core.erp.contract import ITEMS
from pipelines.core.locations import WorkspaceMapping
from pipelines.core.paqtana.contract import EmptyPayloadError, PayloadTooLargeError
from pipelines.core.paqtana.demand import build_historical_demand_chunks
from pipelines.core.paqtana.inventory import build_master_inventory
from pipelines.core.paqtana.workspaces import OrgWorkspaces
from pipelines.core.rejects import REJECT_COLUMNS

NAN = np.nan
WORKSPACES = WorkspaceMapping({"L1": "WS-NORTH"}, default="WS-MAIN")


def items_frame() -> pd.DataFrame:
    """3 items x 2 locations, out of order, with missing values of every kind."""
    rows = [
        # location, code, description, material_type, unit_of_measure, currency, unit_cost,
        # min_order_qty, multiple_order_qty, lead_time_days, on_hand, in_transit, open_orders
        ("L2", "B-200", "Bolt M8", "RAW", "pcs", "EUR", 0.15, 100, 50, 14, 1200, 0, NAN),
        ("L1", "A-100", "Widget", "FINISHED", "pcs", "EUR", 12.5, 10, 5, 7, 40, 10, 3),
        ("L1", "B-200", "Bolt M8", "RAW", "pcs", None, 0.15, 100, 50, 14, 800, NAN, 0),
        ("L2", "A-100", "Widget", "FINISHED", "pcs", "EUR", 12.5, 10, 5, 7, 2.5, 0, 0),
        ("L1", "C-300", None, None, None, pd.NA, NAN, NAN, NAN, NAN, 0, NAN, NAN),
        ("L2", "C-300", 'Tôle "1mm"\\', "RAW", "m2", NAN, 1e-7, NAN, NAN, 30, 5, NAN, NAN),
    ]
    frame = pd.DataFrame(rows, columns=ITEMS.names)
    numeric = [c.name for c in ITEMS.columns if c.type == "number"]
    return frame.astype(dict.fromkeys(numeric, "float64"))


def demand_frame() -> pd.DataFrame:
    """A week of daily totals, shuffled, codes as a category in non-text order."""
    rows = [
        ("2024-03-07", "L1", "A-100", 2.5),
        ("2024-03-06", "L1", "B-200", 100.0),
        ("2024-03-04", "L1", "A-100", 5.0),
        ("2024-03-10", "L1", "A-100", 1.0),
        ("2024-03-05", "L1", "A-100", 0.0),
        ("2024-03-08", "L2", "C-300", 0.1),
    ]
    rows += [(f"2024-03-{d:02d}", "L2", "A-100", float(d - 3)) for d in (10, 4, 8, 6, 5, 9, 7)]
    frame = pd.DataFrame(rows, columns=["date", "location", "code", "quantity"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["code"] = pd.Categorical(frame["code"], categories=["C-300", "B-200", "A-100"])
    return frame


EXPECTED_INVENTORY = (
    b'{"data":['
    b'{"location":"L1","code":"A-100","description":"Widget","materialType":"FINISHED",'
    b'"multipleOrderQuantity":5,"currency":"EUR","unitCost":12.5,"minimumOrderQuantity":10,'
    b'"unitOfMeasure":"pcs","supplyLeadTime":7,"onHandStock":40,"transitStock":10,'
    b'"openDemandOrders":3,"additionalColumns":[],"workspaceCode":"WS-NORTH"},'
    b'{"location":"L1","code":"B-200","description":"Bolt M8","materialType":"RAW",'
    b'"multipleOrderQuantity":50,"currency":null,"unitCost":0.15,"minimumOrderQuantity":100,'
    b'"unitOfMeasure":"pcs","supplyLeadTime":14,"onHandStock":800,"transitStock":null,'
    b'"openDemandOrders":0,"additionalColumns":[],"workspaceCode":"WS-NORTH"},'
    b'{"location":"L1","code":"C-300","description":null,"materialType":null,'
    b'"multipleOrderQuantity":null,"currency":null,"unitCost":null,"minimumOrderQuantity":null,'
    b'"unitOfMeasure":null,"supplyLeadTime":null,"onHandStock":0,"transitStock":null,'
    b'"openDemandOrders":null,"additionalColumns":[],"workspaceCode":"WS-NORTH"},'
    b'{"location":"L2","code":"A-100","description":"Widget","materialType":"FINISHED",'
    b'"multipleOrderQuantity":5,"currency":"EUR","unitCost":12.5,"minimumOrderQuantity":10,'
    b'"unitOfMeasure":"pcs","supplyLeadTime":7,"onHandStock":2.5,"transitStock":0,'
    b'"openDemandOrders":0,"additionalColumns":[],"workspaceCode":"WS-MAIN"},'
    b'{"location":"L2","code":"B-200","description":"Bolt M8","materialType":"RAW",'
    b'"multipleOrderQuantity":50,"currency":"EUR","unitCost":0.15,"minimumOrderQuantity":100,'
    b'"unitOfMeasure":"pcs","supplyLeadTime":14,"onHandStock":1200,"transitStock":0,'
    b'"openDemandOrders":null,"additionalColumns":[],"workspaceCode":"WS-MAIN"},'
    b'{"location":"L2","code":"C-300","description":"T\xc3\xb4le \\"1mm\\"\\\\",'
    b'"materialType":"RAW",'
    b'"multipleOrderQuantity":null,"currency":null,"unitCost":1e-7,"minimumOrderQuantity":null,'
    b'"unitOfMeasure":"m2","supplyLeadTime":30,"onHandStock":5,"transitStock":null,'
    b'"openDemandOrders":null,"additionalColumns":[],"workspaceCode":"WS-MAIN"}'
    b"]}"
)

EXPECTED_DEMAND = (
    b'{"data":['
    b'{"location":"L1","code":"A-100","workspaceCode":"WS-NORTH",'
    b'"dates":["2024-03-04","2024-03-05","2024-03-07","2024-03-10"],"quantities":[5,0,2.5,1]},'
    b'{"location":"L1","code":"B-200","workspaceCode":"WS-NORTH",'
    b'"dates":["2024-03-06"],"quantities":[100]},'
    b'{"location":"L2","code":"A-100","workspaceCode":"WS-MAIN",'
    b'"dates":["2024-03-04","2024-03-05","2024-03-06","2024-03-07","2024-03-08","2024-03-09",'
    b'"2024-03-10"],"quantities":[1,2,3,4,5,6,7]},'
    b'{"location":"L2","code":"C-300","workspaceCode":"WS-MAIN",'
    b'"dates":["2024-03-08"],"quantities":[0.1]}'
    b"]}"
)


def test_master_inventory_body_is_exactly_the_golden_bytes() -> None:
    result = build_master_inventory(items_frame(), WORKSPACES)

    assert result.body == EXPECTED_INVENTORY
    assert result.rows == 6
    assert list(result.rejects.columns) == REJECT_COLUMNS
    assert result.rejects.empty


def test_historical_demand_body_is_exactly_the_golden_bytes() -> None:
    result = build_historical_demand_chunks(demand_frame(), WORKSPACES)

    assert result.bodies == [EXPECTED_DEMAND]
    chunk = result.chunks[0]
    assert (chunk.series, chunk.values, chunk.size_bytes) == (4, 13, len(EXPECTED_DEMAND))
    assert chunk.sha256 == hashlib.sha256(EXPECTED_DEMAND).hexdigest()
    assert (result.series, result.values, result.split_series) == (4, 13, 0)
    assert result.rejects.empty


def test_demand_body_does_not_depend_on_input_order_or_date_unit() -> None:
    shuffled = demand_frame().sample(frac=1, random_state=7)
    shuffled["date"] = shuffled["date"].astype("datetime64[s]")
    shuffled["code"] = shuffled["code"].astype(str)

    assert build_historical_demand_chunks(shuffled, WORKSPACES).bodies == [EXPECTED_DEMAND]


def test_unmapped_location_rows_are_rejected_with_their_source_line() -> None:
    items = items_frame()
    items["source_file"] = "items_2024-03-10.csv"
    items["source_line"] = range(2, 8)
    no_default = WorkspaceMapping({"L1": "WS-NORTH"})

    result = build_master_inventory(items, no_default)

    assert result.rows == 3
    assert b'"location":"L2"' not in result.body
    assert result.rejects.to_dict("list") == {
        "file": ["items_2024-03-10.csv"] * 3,
        "line": [2, 5, 7],
        "field": ["location"] * 3,
        "value": ["L2"] * 3,
        "reason": ["location 'L2' has no workspaceCode mapping and no default"] * 3,
    }


def test_demand_rows_of_a_workspace_missing_from_the_org_are_rejected() -> None:
    org = OrgWorkspaces.from_listing("demo-org", [("North", "WS-NORTH")])

    result = build_historical_demand_chunks(demand_frame(), WORKSPACES, org_workspaces=org)

    assert result.values == 5
    assert b'"L2"' not in result.bodies[0]
    assert len(result.rejects) == 8
    assert set(result.rejects["field"]) == {"workspaceCode"}
    assert set(result.rejects["value"]) == {"WS-MAIN"}
    assert set(result.rejects["reason"]) == {
        "workspaceCode 'WS-MAIN' does not exist in org 'demo-org'"
    }
    assert result.rejects["file"].tolist() == [""] * 8


def test_non_finite_quantity_is_rejected_not_sent_as_null() -> None:
    demand = demand_frame()
    demand.loc[demand["quantity"] == 100.0, "quantity"] = NAN

    result = build_historical_demand_chunks(demand, WORKSPACES)

    assert b"null" not in result.bodies[0]
    assert b'"code":"B-200"' not in result.bodies[0]
    assert result.rejects[["field", "value"]].values.tolist() == [["quantity", "nan"]]


def test_master_inventory_over_the_cap_raises_naming_size_and_cap() -> None:
    with pytest.raises(PayloadTooLargeError) as raised:
        build_master_inventory(items_frame(), WORKSPACES, cap_bytes=1000)

    message = str(raised.value)
    assert f"{len(EXPECTED_INVENTORY):,} bytes" in message
    assert "1,000-byte cap" in message
    assert "not split" in message


def test_master_inventory_with_nothing_left_refuses_to_build_an_erasing_put() -> None:
    with pytest.raises(EmptyPayloadError, match="erase"):
        build_master_inventory(items_frame(), WorkspaceMapping({}))


def test_repeated_demand_key_is_refused() -> None:
    demand = pd.concat([demand_frame(), demand_frame().iloc[:1]])

    with pytest.raises(ValueError, match="1 repeated"):
        build_historical_demand_chunks(demand, WORKSPACES)


def test_demand_dates_with_a_time_of_day_are_refused() -> None:
    demand = demand_frame()
    demand.loc[0, "date"] = pd.Timestamp("2024-03-07 13:00")

    with pytest.raises(ValueError, match="not at midnight"):
        build_historical_demand_chunks(demand, WORKSPACES)


def demand_body(objects: list[dict]) -> bytes:
    return b'{"data":[' + b",".join(orjson.dumps(o) for o in objects) + b"]}"


def test_a_body_of_exactly_the_cap_is_filled_and_one_byte_less_is_not() -> None:
    objects = orjson.loads(EXPECTED_DEMAND)["data"]
    assert demand_body(objects) == EXPECTED_DEMAND
    first_two = demand_body(objects[:2])

    at_cap = build_historical_demand_chunks(demand_frame(), WORKSPACES, len(first_two))
    below = build_historical_demand_chunks(demand_frame(), WORKSPACES, len(first_two) - 1)

    assert at_cap.bodies[0] == first_two
    assert below.bodies[0] == demand_body(objects[:1])
    for result in (at_cap, below):
        assert b"".join(result.bodies).count(b'"location"') == 4
        assert all(len(body) <= result.cap_bytes for body in result.bodies)


def test_an_oversize_series_is_cut_exactly_where_the_next_day_would_not_fit() -> None:
    days = pd.date_range("2024-01-01", periods=50, freq="D")
    demand = pd.DataFrame({"date": days, "location": "L1", "code": "A-100", "quantity": 7.0})
    dates = [d.strftime("%Y-%m-%d") for d in days]
    first_piece = {
        "location": "L1",
        "code": "A-100",
        "workspaceCode": "WS-NORTH",
        "dates": dates[:20],
        "quantities": [7] * 20,
    }
    cap = len(demand_body([first_piece]))

    at_cap = build_historical_demand_chunks(demand, WORKSPACES, cap)
    below = build_historical_demand_chunks(demand, WORKSPACES, cap - 1)

    assert at_cap.bodies[0] == demand_body([first_piece])
    assert [len(orjson.loads(b)["data"][0]["dates"]) for b in at_cap.bodies] == [20, 20, 10]
    assert [len(orjson.loads(b)["data"][0]["dates"]) for b in below.bodies] == [19, 19, 12]
    assert at_cap.split_series == below.split_series == 1
    assert at_cap.series == 1
    assert [c.series for c in at_cap.chunks] == [1, 1, 1]
