"""The daily sync report from plain figures: what each vendor got, what was refused and why,
carried forward, skipped, and the next step, as Markdown and as the terminal's screenful."""

from __future__ import annotations

import re

import yaml

from pipelines.core.sync_report import (
    CheckResult,
    RunFigures,
    build_report,
    decision_of,
    markdown,
    reasons_in,
    summary,
)

RUN = "0123abcd-0000-4000-8000-000000000000"
DAY = "2026-11-21"
EXTRACT_ITEMS = "/data/rejects/erp_items/2026-11-21.csv"
INVENTORY_REJECTS = "/data/rejects/paqtana_master_inventory/2026-11-21.csv"
DEMAND_EXTRACT = "/data/rejects/erp_demand/2026-11-21.csv"
PIXEE_REJECTS = "/data/rejects/pixee_products_sync/2026-11-21.csv"
SENT = "sent: the write of 2026-12-02 (manual)"
SKIPPED = (
    f"skipped: already sent today at 2026-12-02 06:00:01 UTC by run {RUN}, for {DAY} "
    "(the vendor takes one send a day; tomorrow's carries what is new)"
)


def figures(**loads: dict) -> RunFigures:
    """A run of the four vendors; `loads` replaces an asset's metadata."""
    materializations = {
        "erp_items": {"rows_rejected": 0, "rejects_file": EXTRACT_ITEMS},
        "erp_demand": {"rows_rejected": 0, "rejects_file": DEMAND_EXTRACT},
        "erp_products": {"rows_rejected": 0},
        "paqtana_master_inventory": {
            "cadence": SENT,
            "sent": 1003,
            "refused": 0,
            "failed": 0,
            "requests_to": "sandbox: 127.0.0.1:8765",
            "requests_sent": 2,
            "requests_by_method": {"GET": 1, "PUT": 1},
            "rejects_file": INVENTORY_REJECTS,
        },
        "paqtana_historical_demand": {
            "cadence": SENT,
            "sent": 4197,
            "refused": 0,
            "failed": 0,
            "requests_sent": 2,
            "requests_by_method": {"GET": 1, "POST": 1},
            "auto_calculate": "sent with demand chunk 1/1 (159,907 bytes)",
        },
        "pixee_products_sync": {
            "cadence": SENT,
            "sent": 500,
            "refused": 0,
            "failed": 0,
            "still_failing": 0,
            "requests_sent": 3,
            "requests_by_method": {"GET": 1, "POST": 2},
            "rejects_file": PIXEE_REJECTS,
        },
        "pixee_catalog_cache": {
            "cadence": "sent: the read of 2026-12-02 (manual)",
            "products_read": 500,
            "requests_sent": 3,
            "requests_by_method": {"GET": 3},
        },
        "pxm_catalog_cache": {
            "cadence": "sent: the read of 2026-12-02 (manual)",
            "collections": 150,
            "requests_sent": 4,
            "requests_by_method": {"GET": 3, "POST": 1},
        },
    }
    for asset, values in loads.items():
        materializations[asset] = {**materializations.get(asset, {}), **values}
    return RunFigures(job="daily_sync", run_id=RUN, day=DAY, materializations=materializations)


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no section {title!r} in:\n{text}"
    return match.group(1)


def snippet(text: str) -> dict:
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block, text
    return yaml.safe_load(block.group(1))


def test_a_clean_run_names_every_vendor_and_has_nothing_to_do():
    report = build_report(figures())
    text = markdown(report)
    for title in ("Paqtana inventory", "Paqtana demand", "Pixee", "PXM"):
        assert "Nothing to do." in section(text, title), title
    assert "sent 1003 rows: 1 write request(s), 1 read request(s)" in text
    assert "read 150 collections: 4 read request(s), writes nothing" in text
    assert "auto_calculate: sent with demand chunk 1/1" in section(text, "Paqtana demand")
    assert f"Run `{RUN}`: every load ran; 4 write request(s) and 10 read request(s)" in text
    assert summary(report)[-1] == "next: nothing to do"


def test_refused_rows_and_products_are_listed_with_their_reasons_files_and_next_step():
    run = figures(
        erp_items={"rows_rejected": 2},
        erp_demand={"rows_rejected": 4},
        paqtana_master_inventory={"refused": 2, "failed": 3},
        pixee_products_sync={"failed": 1, "still_failing": 2},
    )
    run.reasons = {
        EXTRACT_ITEMS: reasons_in(["not a number", "negative value not allowed"]),
        INVENTORY_REJECTS: reasons_in(["refused by Paqtana: unknown UOM"] * 3),
        DEMAND_EXTRACT: reasons_in(["not a number"] * 4),
        PIXEE_REJECTS: reasons_in(["refused by Pixee: name is required"] * 2),
    }
    run.failures = {}
    text = markdown(build_report(run))

    inventory = section(text, "Paqtana inventory")
    # the load's `refused` counts the extract's rows: one line, both files, no double count
    # the vendor's refusals share the load's rejects file; each line takes its own reasons
    assert (
        f"- kept out before sending: 2 (in `{EXTRACT_ITEMS}`): "
        "not a number (1); negative value not allowed (1)\n"
    ) in inventory
    assert "refused at the ERP extract" not in inventory
    assert (
        f"- refused by the vendor: 3 (in `{INVENTORY_REJECTS}`): "
        "refused by Paqtana: unknown UOM (3)\n"
    ) in inventory
    assert "Fix the 3 rows the vendor refused" in inventory
    demand = section(text, "Paqtana demand")
    assert f"- refused at the ERP extract: 4 (in `{DEMAND_EXTRACT}`): not a number (4)" in demand
    assert (
        "Correct the 4 row(s) of `paqtana_historical_demand` refused at the ERP extract" in demand
    )
    pixee = section(text, "Pixee")
    assert "- refused by the vendor: 1\n" in pixee
    assert f"- still refused by Pixee: 2 (in `{PIXEE_REJECTS}`): refused by Pixee: name" in pixee
    assert "every daily send carries them again until Pixee accepts them" in pixee
    assert "| Paqtana inventory | sent | 1003 | 0 | 2 | 3 | 0 | 1 | 1 |" in text

    lines = summary(build_report(run), base=None)
    files = lines[lines.index(next(x for x in lines if x.startswith("refused rows"))) + 1 :]
    assert any(x.startswith(f"  {PIXEE_REJECTS}: refused by Pixee") for x in files)


def test_a_cadence_skip_writes_nothing_says_the_reads_and_offers_the_resend_config():
    run = figures(
        paqtana_master_inventory={
            "cadence": SKIPPED,
            "sent": 0,
            "requests_sent": 1,
            "requests_by_method": {"GET": 1},
        },
        pixee_products_sync={
            "cadence": SKIPPED,
            "sent": 0,
            "requests_sent": 0,
            "requests_by_method": {},
        },
        pixee_catalog_cache={"cadence": "skipped: already read", "requests_sent": 0},
        pxm_catalog_cache={"cadence": "skipped: already read", "requests_sent": 0},
        paqtana_historical_demand={
            "cadence": "nothing sent: Paqtana already holds every day",
            "sent": 0,
            "requests_sent": 1,
            "requests_by_method": {"GET": 1},
        },
    )
    report = build_report(run)
    text = markdown(report)
    inventory = section(text, "Paqtana inventory")
    assert "**writes nothing; reads still happen: 1 request(s)**" in inventory
    assert f"cadence: {SKIPPED}" in inventory
    config = snippet(inventory)["resources"]["cadence"]["config"]
    assert config["force"] is True and config["reason"].strip()
    assert config["endpoints"] == ["paqtana_master_inventory"]
    assert snippet(section(text, "Pixee"))["resources"]["cadence"]["config"]["endpoints"] == [
        "pixee_products_batch"
    ]
    assert "Nothing to do." in section(text, "Paqtana demand")
    assert decision_of(SKIPPED) == "skipped"

    lines = summary(report)
    assert (
        lines[0]
        == f"daily_sync of {DAY} succeeded (run 0123abcd): writes nothing, 2 read request(s)"
    )
    assert any(
        "cadence: skipped: already sent today at" in x and "by run 0123abcd," in x for x in lines
    )
    assert [x for x in lines if "already sent today:" in x] == [
        "  - already sent today: paqtana_master_inventory, pixee_products_sync: nothing to do; "
        "to send the day again on purpose, launch it with force and a reason (config in the report)"
    ]
    assert len(lines) <= 20


def test_a_safeguard_stop_and_carried_forward_rows_say_why_and_how_to_lift_it():
    blocked = (
        "blocked: removed_share: 400 of the 1000 items Paqtana holds would be removed (40.00%; "
        "MAX_REMOVED_SHARE=0.05) (lift it for one run with force on this endpoint and a reason)"
    )
    run = figures(
        paqtana_master_inventory={
            "cadence": blocked,
            "sent": 0,
            "rows_carried_forward": 2,
            "requests_sent": 1,
            "requests_by_method": {"GET": 1},
        }
    )
    run.checks = [
        CheckResult("paqtana_master_inventory", "safeguards", False, "ERROR", "removed_share: 400"),
        CheckResult(
            "pixee_products_payload", "pxm_enrichment_from_todays_read", False, "WARN", "old"
        ),
        CheckResult("paqtana_historical_demand", "requests_under_byte_cap", True, "ERROR", "ok"),
    ]
    report = build_report(run)
    text = markdown(report)
    inventory = section(text, "Paqtana inventory")
    assert "| Paqtana inventory | blocked | 0 |" in text
    assert "- carried forward: 2 row(s) (their item kept)" in inventory
    assert "2 row(s) of `paqtana_master_inventory` went with the value Paqtana last accepted" in (
        inventory
    )
    assert "was stopped by a safeguard: removed_share: 400 of the 1000 items" in inventory
    assert snippet(inventory)["resources"]["cadence"]["config"]["endpoints"] == [
        "paqtana_master_inventory"
    ]
    assert "- `paqtana_master_inventory` `safeguards` (ERROR): removed_share: 400" in inventory
    assert inventory.count("Check `paqtana_master_inventory` `safeguards`") == 0  # said once
    assert "Check `pixee_products_payload` `pxm_enrichment_from_todays_read` (WARN): old" in (
        section(text, "Pixee")
    )
    assert "requests_under_byte_cap" not in text  # passed checks are not news


def test_a_failed_load_without_figures_is_reported_with_its_error_and_a_relaunch():
    run = figures()
    del run.materializations["paqtana_historical_demand"]
    run.failures = {"paqtana_historical_demand": "Paqtana answered 503 after 6 attempts"}
    del run.materializations["pxm_catalog_cache"]
    report = build_report(run)
    text = markdown(report)
    demand = section(text, "Paqtana demand")
    assert "FAILED: Paqtana answered 503 after 6 attempts" in demand
    assert "Launch the day again" in demand
    assert "not run in this run" in section(text, "PXM")
    assert "a step FAILED" in text
    assert summary(report)[0].startswith(f"daily_sync of {DAY} FAILED")


def test_a_dry_run_says_nothing_reached_the_vendors():
    cadence = (
        "dry-run: written to the outbox, ledger untouched (a live run would send now: the write "
        "of 2026-12-02 (manual))"
    )
    run = figures(
        paqtana_master_inventory={"cadence": cadence},
        pxm_catalog_cache={"cadence": "dry-run: read from the outbox's canned answers"},
    )
    text = markdown(build_report(run))
    assert (
        "**dry-run, nothing sent to the vendor: 2 request(s) to the outbox, 1003 rows in 1 "
        "write(s)**" in section(text, "Paqtana inventory")
    )
    assert "**dry-run, nothing sent to the vendor: 4 request(s) to the outbox**" in section(
        text, "PXM"
    )


def test_a_step_failed_before_the_loads_is_named_and_the_loads_it_stopped_say_so():
    run = figures()
    for asset in ("paqtana_master_inventory", "paqtana_historical_demand"):
        del run.materializations[asset]
    run.failures = {"erp_items": "2 of 3 rows refused: above MAX_REJECT_SHARE=0.05"}
    run.checks = [CheckResult("erp_items", "usable", False, "ERROR", "2 of 3 rows refused")]
    report = build_report(run)
    text = markdown(report)
    assert "- `erp_items`: 2 of 3 rows refused: above MAX_REJECT_SHARE=0.05" in text
    inventory = section(text, "Paqtana inventory")
    assert "`paqtana_master_inventory` did not run: a step before it failed." in inventory
    assert "- `erp_items` `usable` (ERROR): 2 of 3 rows refused" in inventory
    assert "Nothing to do." in section(text, "PXM")
    lines = summary(report)
    assert lines[0].startswith(f"daily_sync of {DAY} FAILED")
    assert lines[1] == "  FAILED erp_items: 2 of 3 rows refused: above MAX_REJECT_SHARE=0.05"


def test_without_the_methods_the_writes_are_the_units_the_vendor_answered():
    run = figures()
    inventory = run.materializations["paqtana_master_inventory"]
    del inventory["requests_by_method"]
    inventory["units_sent"] = 1
    text = markdown(build_report(run))
    assert "**sent 1003 rows: 1 write request(s), 1 read request(s)**" in text
