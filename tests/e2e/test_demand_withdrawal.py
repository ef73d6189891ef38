"""Taking back a demand value over three calendar days. Paqtana merges by day + location + code
and keeps what a send leaves out, and so does the extract across drops (a newer drop beats an
older one key by key): a value is taken back by the ERP exporting that key with quantity 0. A
re-export that leaves a key out keeps the earlier value, at Paqtana and in what we send, and
nothing is re-sent for it."""

from __future__ import annotations

import dagster as dg

from tests.e2e.helpers import DEMAND_ONLY, calendar_day, meta, write_drop

MON, TUE, WED = "2026-11-16", "2026-11-17", "2026-11-18"


def demand(*rows: tuple[str, str, float]) -> str:
    return "date,location,code,quantity\n" + "".join(
        f"{day},WH-PARIS,{code},{quantity}\n" for day, code, quantity in rows
    )


def held(sandbox) -> dict[tuple[str, str], float]:  # noqa: ANN001
    """What Paqtana holds: (date, code) -> quantity."""
    return {(p["date"], p["code"]): p["quantity"] for p in sandbox.historical_demand()}


def send_day(day: str, instance, res, sandbox) -> tuple[dict, int]:  # noqa: ANN001
    """The day's demand extract and send, on that calendar day's morning: its load metadata,
    and how many daily values its POSTs carried."""
    before = len(sandbox.demand_posts())
    with calendar_day(day):
        result = dg.materialize(
            DEMAND_ONLY["assets"],
            selection=DEMAND_ONLY["selection"],
            partition_key=day,
            instance=instance,
            resources=res,
        )
    assert result.success
    points = sum(p["points"] for p in sandbox.demand_posts()[before:])
    return meta(result, "paqtana_historical_demand"), points


def test_a_zero_takes_a_value_back_and_a_left_out_key_keeps_it(exports, instance, res, sandbox):
    write_drop(exports, MON, demand=demand((MON, "A", 5), (MON, "B", 3)))
    sent, points = send_day(MON, instance, res, sandbox)
    assert (sent["days_sent"], points) == ([MON], 2)
    assert held(sandbox) == {(MON, "A"): 5, (MON, "B"): 3}

    # Tuesday's drop takes back Monday's sale of B (a cancelled order line): B at 0.
    write_drop(exports, TUE, demand=demand((TUE, "A", 4), (TUE, "B", 1), (MON, "B", 0)))
    sent, points = send_day(TUE, instance, res, sandbox)
    assert (sent["days_sent"], points) == ([MON, TUE], 4)  # Monday whole again: A 5, B 0
    assert held(sandbox) == {(MON, "A"): 5, (MON, "B"): 0, (TUE, "A"): 4, (TUE, "B"): 1}

    # Wednesday's drop re-exports Tuesday without A (a truncated re-export): Tuesday's drop
    # still says A was 4 (a newer drop beats an older one key by key, not day by day), so
    # Tuesday is as Paqtana holds it and is not sent again; Paqtana keeps A at 4.
    write_drop(exports, WED, demand=demand((WED, "A", 2), (TUE, "B", 1)))
    sent, points = send_day(WED, instance, res, sandbox)
    assert (sent["days_sent"], points) == ([WED], 1)
    assert held(sandbox) == {
        (MON, "A"): 5,
        (MON, "B"): 0,
        (TUE, "A"): 4,
        (TUE, "B"): 1,
        (WED, "A"): 2,
    }
