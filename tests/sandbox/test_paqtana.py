"""Contract of the Paqtana imitation: auth, workspaces, PUT replaces, POST merges, 413."""

from __future__ import annotations

import datetime as dt

import httpx
import orjson
import pytest

from erp_sandbox import PaqtanaConfig, Sandbox, SandboxConfig, run_sandbox

from .conftest import PAQTANA_TOKEN

ORG = "demo-org"
INVENTORY = f"/v2/org/{ORG}/master_inventory"
DEMAND = f"/v2/org/{ORG}/historical_demand"


def inventory_row(code: str, location: str = "L1", workspace: str = "WS-MAIN", **extra):
    return {"location": location, "code": code, "workspaceCode": workspace, **extra}


def series(code: str, dates: list[str], quantities: list[float], location: str = "L1"):
    return {
        "location": location,
        "code": code,
        "workspaceCode": "WS-NORTH",
        "dates": dates,
        "quantities": quantities,
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {PAQTANA_TOKEN}"}],
    ids=["missing", "wrong-token", "wrong-scheme"],
)
def test_requests_without_the_bearer_token_are_401_in_paqtana_error_shape(
    raw: httpx.Client, sandbox: Sandbox, headers: dict[str, str]
) -> None:
    response = raw.put(INVENTORY, json={"data": [inventory_row("A")]}, headers=headers)

    assert response.status_code == 401
    assert response.json() == {
        "operation_type": "master_inventory",
        "operation_info": {"validation_error": "Invalid or missing token"},
    }
    assert sandbox.master_inventory() == []


def test_unknown_org_is_404(paqtana: httpx.Client) -> None:
    response = paqtana.get("/v2/org/other-org/workspaces")

    assert response.status_code == 404
    assert response.json()["operation_info"]["validation_error"] == (
        "Organization 'other-org' not found"
    )


def test_workspaces_lists_name_code_pairs(paqtana: httpx.Client) -> None:
    response = paqtana.get(f"/v2/org/{ORG}/workspaces")

    assert response.status_code == 200
    codes = [["Main", "WS-MAIN"], ["North", "WS-NORTH"], ["South", "WS-SOUTH"]]
    assert response.json() == {
        "operation_type": "workspaces",
        "operation_info": {"workspaces_info": {"workspace_codes": codes}},
    }


def test_put_master_inventory_replaces_everything(paqtana: httpx.Client, sandbox: Sandbox) -> None:
    first = [inventory_row("A", onHandStock=5), inventory_row("B", unitCost=2.5)]
    second = [inventory_row("C", location="L2", workspace="WS-SOUTH", onHandStock=1)]

    assert paqtana.put(INVENTORY, json={"data": first}).status_code == 200
    assert sandbox.master_inventory() == first
    response = paqtana.put(INVENTORY, json={"data": second})

    assert response.status_code == 200
    assert response.json()["operation_info"]["rows"] == 1
    assert sandbox.master_inventory() == second


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ([inventory_row("A"), inventory_row("B", workspace="WS-X")], "data[1].workspaceCode"),
        ([{"code": "A", "workspaceCode": "WS-MAIN"}], "data[0].location"),
        ([inventory_row("")], "data[0].code"),
        ([inventory_row("A", onHandStock="7")], "data[0].onHandStock"),
        ([inventory_row("A", onhandStock=7)], "data[0].onhandStock: unknown field"),
    ],
    ids=["unknown-workspace", "no-location", "empty-code", "text-stock", "misspelt-field"],
)
def test_invalid_inventory_row_is_422_naming_row_and_field_and_stores_nothing(
    paqtana: httpx.Client, sandbox: Sandbox, rows: list[dict], reason: str
) -> None:
    kept = [inventory_row("KEEP")]
    paqtana.put(INVENTORY, json={"data": kept})

    response = paqtana.put(INVENTORY, json={"data": rows})

    assert response.status_code == 422
    body = response.json()
    assert body["operation_type"] == "master_inventory"
    assert body["operation_info"]["validation_error"].startswith(reason)
    assert sandbox.master_inventory() == kept


@pytest.mark.parametrize(
    "content", [b"not json", b'{"rows": []}', b'{"data": {}}'], ids=["text", "no-data", "dict"]
)
def test_inventory_body_must_be_json_with_a_data_list(
    paqtana: httpx.Client, content: bytes
) -> None:
    response = paqtana.put(INVENTORY, content=content)

    assert response.status_code == 422
    assert response.json()["operation_info"]["validation_error"]


def test_post_historical_demand_merges_by_location_code_and_day(
    paqtana: httpx.Client, sandbox: Sandbox
) -> None:
    first = [
        series("A", ["2026-06-01", "2026-06-02", "2026-06-03"], [1, 2, 3]),
        series("B", ["2026-06-01"], [10]),
    ]
    # Overlaps A on 06-02 and 06-03, adds 06-04, and A at another location is another series.
    second = [
        series("A", ["2026-06-02", "2026-06-03", "2026-06-04"], [20, 0, 4]),
        series("A", ["2026-06-02"], [99], location="L2"),
    ]

    assert paqtana.post(DEMAND, json={"data": first}).status_code == 200
    assert paqtana.post(DEMAND, json={"data": second}).status_code == 200

    stored = sandbox.historical_demand()
    merged = {(r["location"], r["code"], r["date"]): r["quantity"] for r in stored}
    assert merged == {
        ("L1", "A", "2026-06-01"): 1,
        ("L1", "A", "2026-06-02"): 20,
        ("L1", "A", "2026-06-03"): 0,
        ("L1", "A", "2026-06-04"): 4,
        ("L1", "B", "2026-06-01"): 10,
        ("L2", "A", "2026-06-02"): 99,
    }
    assert {r["workspaceCode"] for r in stored} == {"WS-NORTH"}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (series("A", ["2026-06-01", "2026-06-02"], [1]), "data[1]: dates has 2 items"),
        (series("A", ["2026-06-01", "06/02/2026"], [1, 2]), "data[1].dates[1]"),
        (series("A", ["2026-02-30"], [1]), "data[1].dates[0]"),
        (series("A", ["2026-06-01", "2026-06-01"], [1, 2]), "data[1].dates: a day appears"),
        (series("A", ["2026-06-01"], ["1"]), "data[1].quantities[0]"),
    ],
    ids=["length-mismatch", "not-iso", "impossible-day", "repeated-day", "text-quantity"],
)
def test_invalid_demand_row_is_422_and_merges_nothing(
    paqtana: httpx.Client, sandbox: Sandbox, row: dict, reason: str
) -> None:
    good = series("OK", ["2026-06-01"], [1])

    response = paqtana.post(DEMAND, json={"data": [good, row]})

    assert response.status_code == 422
    assert response.json()["operation_info"]["validation_error"].startswith(reason)
    assert sandbox.historical_demand() == []
    assert sandbox.demand_posts() == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("auto_calculate=True", True),
        ("auto_calculate=true", True),
        ("auto_calculate=False", False),
        ("auto_calculate=1", False),
        ("", False),
    ],
)
def test_each_demand_post_records_its_auto_calculate_flag(
    paqtana: httpx.Client, sandbox: Sandbox, query: str, expected: bool
) -> None:
    body = orjson.dumps({"data": [series("A", ["2026-06-01"], [1])]})

    response = paqtana.post(f"{DEMAND}?{query}" if query else DEMAND, content=body)

    assert response.status_code == 200
    [post] = sandbox.demand_posts()
    assert post["auto_calculate"] is expected
    assert (post["rows"], post["points"], post["bytes"], post["query"]) == (1, 1, len(body), query)


def test_body_over_the_cap_is_413_by_content_length_and_by_actual_size() -> None:
    config = SandboxConfig(paqtana=PaqtanaConfig(max_body_bytes=1024))
    with (
        run_sandbox(config) as sandbox,
        httpx.Client(
            base_url=sandbox.paqtana_url, headers={"Authorization": f"Bearer {PAQTANA_TOKEN}"}
        ) as client,
    ):
        rows = [series(f"ITEM{i}", ["2026-06-01"], [1]) for i in range(40)]
        declared = client.post(DEMAND, content=orjson.dumps({"data": rows}))

        def streamed():  # no Content-Length: chunked, so only the size read can tell
            for _ in range(50):
                yield b" " * 100

        chunked = client.post(DEMAND, content=streamed())
        small = client.post(DEMAND, json={"data": rows[:2]})

        assert declared.status_code == 413
        assert declared.json()["operation_type"] == "historical_demand"
        assert "maximum is 1024 bytes" in declared.json()["operation_info"]["validation_error"]
        assert chunked.status_code == 413
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert small.status_code == 200
        assert [p["rows"] for p in sandbox.demand_posts()] == [2]
        assert [r["status"] for r in sandbox.requests("paqtana")] == [413, 413, 200]


def test_a_year_of_three_thousand_series_merges_in_seconds(
    paqtana: httpx.Client, sandbox: Sandbox
) -> None:
    days = [(dt.date(2025, 1, 1) + dt.timedelta(d)).isoformat() for d in range(365)]
    rows = [series(f"ITEM{i:05d}", days, [i % 7] * 365) for i in range(3000)]
    body = orjson.dumps({"data": rows})

    started = dt.datetime.now()
    first = paqtana.post(DEMAND, content=body)
    again = paqtana.post(DEMAND, content=body)
    elapsed = (dt.datetime.now() - started).total_seconds()

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["operation_info"]["points"] == 365 * 3000
    assert elapsed < 10, f"two year-long merges took {elapsed:.1f}s"
    assert len(sandbox.historical_demand()) == 365 * 3000
