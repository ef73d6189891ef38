"""The master inventory over several calendar days: a full-replace PUT never deletes what the ERP
still has. A bad optional field keeps the item with today's stock; a truncated export sends no
PUT; an old day re-run with force never puts old stock over new; the recalculation always follows
the inventory."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from pipelines.defs.cadence.resources import CadenceGuardResource
from pipelines.defs.erp.resources import ErpExportsResource
from tests.conftest import CANONICAL_MAPPING, LOCATIONS
from tests.e2e.helpers import PAQTANA_CHAIN, calendar_day, materialize, meta, next_day, write_drop

MON, TUE, WED = "2026-11-23", "2026-11-24", "2026-11-25"


def items_csv(rows: list[tuple[str, str, str, str]]) -> str:
    return "location,code,on_hand,unit_cost\n" + "".join(f"{','.join(r)}\n" for r in rows)


def stock(n: int, day_stock: int) -> list[tuple[str, str, str, str]]:
    return [("WH-PARIS", f"I-{i:03d}", str(day_stock), "2.5") for i in range(n)]


@pytest.fixture
def exports(tmp_path):
    return tmp_path / "exports"


@pytest.fixture
def res(resources, exports):
    return resources | {
        "erp": ErpExportsResource(
            export_dir=str(exports),
            mapping_file=str(CANONICAL_MAPPING),
            locations_file=str(LOCATIONS),
        )
    }


def held(sandbox) -> dict[str, dict]:  # noqa: ANN001
    return {r["code"]: r for r in sandbox.master_inventory()}


def puts(sandbox) -> list[dict]:  # noqa: ANN001
    return [r for r in sandbox.requests("paqtana") if r["method"] == "PUT"]


def sync(day: str, instance, res, **kwargs) -> dg.ExecuteInProcessResult:  # noqa: ANN001
    with calendar_day(next_day(day)):
        return materialize(PAQTANA_CHAIN, day, instance, res, raise_on_error=False, **kwargs)


def test_a_bad_optional_field_keeps_the_item_with_todays_stock_and_its_last_good_value(
    res, instance, sandbox, exports, tmp_path
):
    write_drop(exports, MON, items=items_csv(stock(20, 5)))
    assert sync(MON, instance, res).success
    tuesday = stock(20, 7)
    tuesday[3] = ("WH-PARIS", "I-003", "7", "abc")  # one bad unit_cost
    write_drop(exports, TUE, items=items_csv(tuesday))
    result = sync(TUE, instance, res)
    assert result.success
    item = held(sandbox)["I-003"]
    assert (item["onHandStock"], item["unitCost"]) == (7, 2.5)  # today's stock, last good cost
    assert len(held(sandbox)) == 20
    m = meta(result, "paqtana_master_inventory")
    assert (m["rows_carried_forward"], m["items_removed"]) == (1, 0)
    rejects = pd.read_csv(m["rejects_file"], dtype=str)
    [line] = rejects.reason
    assert "carried forward: Paqtana keeps the item with its last accepted unit_cost (2.5)" in line


def test_a_truncated_export_sends_no_put_and_fails_the_safeguard_with_the_counts(
    res, instance, sandbox, exports
):
    write_drop(exports, MON, items=items_csv(stock(50, 5)))
    sync(MON, instance, res)
    write_drop(exports, TUE, items=items_csv(stock(30, 6)))  # 40% of the items missing
    result = sync(TUE, instance, res)
    assert len(puts(sandbox)) == 1  # Monday's only
    assert {r["onHandStock"] for r in held(sandbox).values()} == {5}
    m = meta(result, "paqtana_master_inventory")
    assert m["cadence"].startswith(
        "blocked: removed_share: 20 of the 50 items Paqtana holds would be removed: 40% is "
        "above MAX_REMOVED_SHARE=0.05 (5%)"
    )
    assert m["removed_sample"][:2] == ["WH-PARIS + I-030", "WH-PARIS + I-031"]
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "safeguards")
    assert not check.passed and "20 of the 50 items" in check.description
    # demand still went out, after no inventory: Paqtana merges it
    assert materializations_sent(result, "paqtana_historical_demand")
    # a person who knows the ERP really dropped those items lifts it for one run, with a reason
    forced = res | {
        "cadence": CadenceGuardResource(
            force=True, reason="20 items discontinued", endpoints=["paqtana_master_inventory"]
        )
    }
    again = sync(TUE, instance, forced)
    assert (
        "safeguards lifted by force: removed_share"
        in meta(again, "paqtana_master_inventory")["cadence"]
    )
    assert len(held(sandbox)) == 30


def materializations_sent(result, asset: str) -> bool:  # noqa: ANN001
    return meta(result, asset)["sent"] > 0


def test_a_forced_rerun_of_an_old_day_never_sends_the_old_inventory(
    res, instance, sandbox, exports
):
    write_drop(exports, MON, items=items_csv(stock(5, 1)))
    sync(MON, instance, res)
    write_drop(exports, TUE, items=items_csv(stock(5, 2)))
    sync(TUE, instance, res)
    forced = res | {"cadence": CadenceGuardResource(force=True, reason="re-run Monday")}
    with calendar_day(WED):
        old = materialize(PAQTANA_CHAIN, MON, instance, forced, raise_on_error=False)
    assert len(puts(sandbox)) == 2
    assert {r["onHandStock"] for r in held(sandbox).values()} == {2}
    assert meta(old, "paqtana_master_inventory")["cadence"].startswith(
        "nothing sent: superseded: the ERP's newer complete drop of 2026-11-24"
    )


def test_the_recalculation_follows_the_inventory_even_on_a_day_without_new_demand(
    res, instance, sandbox, exports
):
    demand = f"date,location,code,quantity\n{MON},WH-PARIS,I-000,3\n"
    write_drop(exports, MON, items=items_csv(stock(5, 1)), demand=demand)
    sync(MON, instance, res)
    # Tuesday: new stock, and the demand file repeats Monday's rows only (nothing new)
    write_drop(exports, TUE, items=items_csv(stock(5, 4)), demand=demand)
    result = sync(TUE, instance, res)
    writes = [
        (r["method"], "auto_calculate=True" in r["query"])
        for r in sandbox.requests("paqtana")
        if r["method"] in ("PUT", "POST")
    ]
    # each day: the PUT, then the POST carrying the recalculation
    assert writes == [("PUT", False), ("POST", True), ("PUT", False), ("POST", True)]
    assert sandbox.demand_posts()[-1]["rows"] == 0  # Tuesday's: the recalculation alone
    assert meta(result, "paqtana_historical_demand")["auto_calculate"] == (
        "sent with recalculation after the inventory"
    )
