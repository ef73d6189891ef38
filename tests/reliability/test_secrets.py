"""Secrets never leave the resources: not in a log line, an event, a metadata value, an error
message, a file the run leaves, nor the dry-run outbox. Every fault scenario checks the same
(`Scenario.assert_survived`); these add the two places a leak is most likely: a refused
credential, and the outbox that records exact requests."""

from __future__ import annotations

import dataclasses
import json

import dagster as dg

from tests.reliability.harness import Drop
from tests.reliability.leaks import SECRETS, WRONG_SECRETS


def test_wrong_secrets_fail_each_vendor_with_a_message_a_person_can_act_on(scenario, sandbox):
    Drop().write(scenario.exports)
    wrong_paqtana_and_pixee = dataclasses.replace(
        SECRETS, paqtana_token=WRONG_SECRETS.paqtana_token, pixee_key=WRONG_SECRETS.pixee_key
    )
    wrong_pxm = dataclasses.replace(SECRETS, pxm_secret=WRONG_SECRETS.pxm_secret)
    # PXM first: once it has read today (the Pixee sync needs its cache) it would not ask again.
    first = scenario.run(assets=["pxm_catalog_cache"], secrets=wrong_pxm)
    second = scenario.run(secrets=wrong_paqtana_and_pixee)
    assert not first.success and not second.success
    paqtana = (
        "pipelines.core.paqtana.client.PaqtanaAuthError: Paqtana GET v2/org/demo-org/workspaces "
        "failed: HTTP 401: the token was refused (revoked or wrong); generate a new one in Admin "
        "Console > Integration API Configuration v2 and update the secret (vendor says: "
        "operation_type=workspaces; Invalid or missing token)"
    )
    assert sorted(scenario.failures) == [
        "pipelines.core.http.VendorError: Pixee GET /status failed: HTTP 401: "
        "Missing or invalid API key (X-API-Key header)",
        paqtana,
        paqtana,
        "pipelines.core.pxm.client.PxmAuthError: PXM POST /v2.1/oauth/authorize failed: "
        "HTTP 401: the client id/secret were refused; check the Client ID and Client Secret "
        "registered in PXM (Settings > System > Integrations, Super Admin only)",
    ]
    assert sandbox.master_inventory() == sandbox.historical_demand() == []
    assert sandbox.pixee_products() == []
    assert scenario.leaks(WRONG_SECRETS) == []
    assert scenario.leaks(SECRETS) == []


def test_dry_run_outbox_holds_the_exact_requests_but_no_secret(scenario, sandbox):
    Drop().write(scenario.exports)
    result = scenario.run(mode="dry-run")
    assert result.success
    assert sandbox.requests() == []
    records = sorted((scenario.root / "outbox" / result.run_id).glob("*/*.request.json"))
    sent = [(p.parent.name, json.loads(p.read_text())) for p in records]
    writes = [(v, r["method"]) for v, r in sent if r["method"] != "GET" and "oauth" not in r["url"]]
    assert sorted(writes) == [("paqtana", "POST")] * 7 + [("paqtana", "PUT"), ("pixee", "POST")]
    # reads are recorded too, with canned empty answers: the PXM token, its pages, Pixee's
    # key status and delta
    assert {(v, r["method"]) for v, r in sent} - set(writes) == {
        ("pxm", "POST"),
        ("pxm", "GET"),
        ("pixee", "GET"),
    }
    for vendor, record in sent:
        for name in ("authorization", "x-api-key"):
            assert record["headers"].get(name) in (None, "***"), (vendor, name)
    assert scenario.leaks(SECRETS) == []


def test_the_leak_check_finds_a_secret_in_a_log_line_metadata_output_and_a_file(scenario):
    """The check above can fail: each place a careless asset could put a secret is searched."""
    basic = SECRETS.leakable[3]

    @dg.asset
    def careless(context) -> dg.MaterializeResult:  # unannotated: Dagster reads the name
        context.log.info(f"calling with token {SECRETS.paqtana_token}")
        print(f"Authorization: Basic {basic}")
        (scenario.root / "debug.txt").write_text(SECRETS.pxm_secret)
        return dg.MaterializeResult(metadata={"key": SECRETS.pixee_key})

    scenario.results.append(dg.materialize([careless], instance=scenario.instance))
    scenario.output.append(scenario.capfd.readouterr().out)
    assert set(scenario.leaks()) >= {
        SECRETS.paqtana_token,
        SECRETS.pixee_key,
        basic,
        f"{scenario.root / 'debug.txt'}: {SECRETS.pxm_secret}",
    }
