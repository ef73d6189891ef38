"""Fault injection against a real server on 127.0.0.1: each kind, what the client sees, that a
faulted request changes no state, and the /_sandbox/ control surface."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from erp_sandbox import FaultRule, Sandbox, SandboxConfig, run_sandbox

from .conftest import PAQTANA_TOKEN

INVENTORY = "/v2/org/demo-org/master_inventory"
DEMAND = "/v2/org/demo-org/historical_demand"
ROW = {"location": "L1", "code": "A", "workspaceCode": "WS-MAIN", "onHandStock": 1}
CLIENT = ("sandbox-pxm-client", "sandbox-pxm-secret")


def wait_for_log(sandbox: Sandbox, vendor: str, count: int) -> list[dict]:
    """A request the client gave up on is logged when the server finishes with it."""
    deadline = time.monotonic() + 3
    while len(entries := sandbox.requests(vendor)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return entries


def pxm_token(client: httpx.Client) -> str:
    response = client.post(
        "/v2.1/oauth/authorize", auth=CLIENT, json={"grant_type": "client_credentials"}
    )
    return response.json()["access_token"]


def test_status_fault_answers_in_paqtana_shape_for_n_requests_without_touching_state(
    paqtana: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="status", vendor="paqtana", status=503, retry_after=7, times=2)

    answers = [paqtana.put(INVENTORY, json={"data": [ROW]}) for _ in range(2)]
    assert sandbox.master_inventory() == []
    third = paqtana.put(INVENTORY, json={"data": [ROW]})

    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "7"
        assert answer.json() == {
            "operation_type": "master_inventory",
            "operation_info": {"validation_error": "injected failure"},
        }
    assert third.status_code == 200
    assert sandbox.master_inventory() == [ROW]
    assert [(e["status"], e["fault"]) for e in sandbox.requests("paqtana")] == [
        (503, "status"),
        (503, "status"),
        (200, None),
    ]


def test_pixee_status_faults_use_the_envelope_and_the_429_body(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="status", vendor="pixee", status=429, retry_after=60)
    sandbox.add_fault(kind="status", vendor="pixee", status=500, message="boom")

    limited = pixee.get("/status")
    failed = pixee.get("/status")

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    assert limited.json() == {"detail": "Rate limit exceeded", "retry_after_seconds": 60}
    assert failed.status_code == 500
    assert failed.json()["success"] is False
    assert failed.json()["errors"] == ["boom"]
    assert pixee.get("/status").status_code == 200


def test_rules_match_on_method_and_path_substring(paqtana: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault(kind="status", vendor="paqtana", method="POST", path="historical_demand")

    put = paqtana.put(INVENTORY, json={"data": [ROW]})
    workspaces = paqtana.get("/v2/org/demo-org/workspaces")
    post = paqtana.post(DEMAND, json={"data": []})

    assert [put.status_code, workspaces.status_code, post.status_code] == [200, 200, 503]
    assert sandbox.active_faults() == []


def test_slow_fault_outlasts_the_client_timeout_and_changes_nothing(
    paqtana: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="slow", vendor="paqtana", delay_s=5)

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        paqtana.put(INVENTORY, json={"data": [ROW]}, timeout=0.3)
    [entry] = wait_for_log(sandbox, "paqtana", 1)

    # The server stops waiting when the client hangs up, not after the full 5 s.
    assert time.monotonic() - started < 3
    assert (entry["fault"], entry["status"]) == ("slow", 504)
    assert sandbox.master_inventory() == []
    assert paqtana.put(INVENTORY, json={"data": [ROW]}).status_code == 200


def test_slow_fault_answers_its_status_after_the_delay_to_a_patient_client(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="slow", vendor="pixee", delay_s=0.3, status=503)

    started = time.monotonic()
    response = pixee.get("/status")

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 503
    assert response.json()["success"] is False


def test_drop_fault_breaks_the_connection_and_changes_nothing(
    paqtana: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="drop", vendor="paqtana", method="PUT")

    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        paqtana.put(INVENTORY, json={"data": [ROW]})

    assert sandbox.master_inventory() == []
    [entry] = sandbox.requests("paqtana")
    assert (entry["fault"], entry["status"]) == ("drop", None)
    assert paqtana.put(INVENTORY, json={"data": [ROW]}).status_code == 200


def test_drop_is_a_transport_error_to_httpx(pixee: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault(kind="drop", vendor="pixee")

    with pytest.raises(httpx.TransportError):
        pixee.post("/products", json={"ean": "3760000000001", "name": "A"})

    assert sandbox.pixee_products() == []


def test_malformed_fault_is_a_200_that_is_not_json(pixee: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.add_fault(kind="malformed", vendor="pixee", path="/products/batch")

    response = pixee.post(
        "/products/batch", json={"products": [{"ean": "3760000000001", "name": "A"}]}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert sandbox.pixee_products() == []


def test_partial_batch_fails_listed_eans_and_first_items_and_applies_the_rest(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    eans = [f"376000000000{i}" for i in range(1, 6)]
    sandbox.add_fault(kind="partial_batch", first=1, eans=[eans[3]], message="locked by editor")

    response = pixee.post(
        "/products/batch", json={"products": [{"ean": e, "name": e} for e in eans]}
    )

    data = response.json()["data"]
    assert [(r["ean"], r["status"]) for r in data["results"]] == [
        (eans[0], "error"),
        (eans[1], "created"),
        (eans[2], "created"),
        (eans[3], "error"),
        (eans[4], "created"),
    ]
    assert data["results"][0]["error"] == "locked by editor"
    assert (data["created"], data["errors"]) == (3, 2)
    assert [p["ean"] for p in sandbox.pixee_products()] == [eans[1], eans[2], eans[4]]
    assert sandbox.requests("pixee")[0]["fault"] == "partial_batch"


def test_partial_batch_matches_only_the_batch_endpoint(
    pixee: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.add_fault(kind="partial_batch", first=1)

    single = pixee.post("/products", json={"ean": "3760000000001", "name": "A"})

    assert single.json()["data"]["created"] is True
    assert len(sandbox.active_faults()) == 1


def test_expire_tokens_makes_the_next_call_401_and_a_new_token_works(
    raw: httpx.Client, sandbox: Sandbox
) -> None:
    old = pxm_token(raw)
    assert raw.get("/v2.1/collection", headers={"Authorization": f"Bearer {old}"}).is_success
    sandbox.add_fault(kind="expire_tokens")

    expired = raw.get("/v2.1/collection", headers={"Authorization": f"Bearer {old}"})
    new = pxm_token(raw)
    renewed = raw.get("/v2.1/collection", headers={"Authorization": f"Bearer {new}"})

    assert expired.status_code == 401
    assert renewed.status_code == 200


def test_faults_armed_in_the_config_apply_from_the_start() -> None:
    config = SandboxConfig(faults=[FaultRule(kind="status", vendor="pxm", status=502)])
    with run_sandbox(config) as sandbox, httpx.Client(base_url=sandbox.pxm_url) as client:
        first = client.post("/v2.1/oauth/authorize", auth=CLIENT)
        second = client.post(
            "/v2.1/oauth/authorize", auth=CLIENT, json={"grant_type": "client_credentials"}
        )

    assert first.status_code == 502
    assert first.json() == {"error": "sandbox_fault", "message": "injected failure"}
    assert second.status_code == 200


def test_control_endpoints_add_list_and_clear_faults(raw: httpx.Client) -> None:
    rules = [
        {"kind": "status", "vendor": "pixee", "status": 503, "times": 3},
        {"kind": "drop", "vendor": "paqtana"},
    ]

    added = raw.post("/_sandbox/faults", json={"rules": rules})
    listed = raw.get("/_sandbox/faults").json()["data"]
    cleared = raw.delete("/_sandbox/faults")
    bad = raw.post("/_sandbox/faults", json={"kind": "explode"})
    unknown_field = raw.post("/_sandbox/faults", json={"kind": "drop", "vendr": "pxm"})

    assert added.status_code == 200
    assert [(r["kind"], r["remaining"]) for r in listed] == [("status", 3), ("drop", 1)]
    assert cleared.status_code == 200
    assert raw.get("/_sandbox/faults").json()["data"] == []
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["detail"]
    assert unknown_field.status_code == 400 and "vendr" in unknown_field.json()["detail"]


def test_requests_log_records_each_request_and_filters_by_vendor(
    raw: httpx.Client, paqtana: httpx.Client, pixee: httpx.Client
) -> None:
    body = json.dumps({"data": []}).encode()
    paqtana.post(f"{DEMAND}?auto_calculate=True", content=body)
    pixee.get("/status")
    raw.get("/v2/org/demo-org/workspaces")

    all_entries = raw.get("/_sandbox/requests").json()["data"]
    paqtana_entries = raw.get("/_sandbox/requests", params={"vendor": "paqtana"}).json()["data"]

    assert [e["vendor"] for e in all_entries] == ["paqtana", "pixee", "paqtana"]
    first = paqtana_entries[0]
    assert {k: first[k] for k in ("method", "path", "query", "status", "body_bytes", "fault")} == {
        "method": "POST",
        "path": DEMAND,
        "query": "auto_calculate=True",
        "status": 200,
        "body_bytes": len(body),
        "fault": None,
    }
    assert first["time"] == "2026-06-19T10:00:00.000Z"
    assert [e["status"] for e in paqtana_entries] == [200, 401]


def test_inspection_endpoints_mirror_the_python_readers_and_reset_forgets_all(
    raw: httpx.Client, paqtana: httpx.Client, pixee: httpx.Client, sandbox: Sandbox
) -> None:
    paqtana.put(INVENTORY, json={"data": [ROW]})
    paqtana.post(
        DEMAND,
        json={
            "data": [
                {
                    **{k: ROW[k] for k in ("location", "code", "workspaceCode")},
                    "dates": ["2026-06-01"],
                    "quantities": [4],
                }
            ]
        },
    )
    pixee.post("/products", json={"ean": "3760000000001", "name": "A"})
    sandbox.add_fault(kind="drop")

    over_http = {
        path: raw.get(f"/_sandbox/{path}").json()["data"]
        for path in (
            "paqtana/master_inventory",
            "paqtana/historical_demand",
            "paqtana/demand_posts",
            "pixee/products",
        )
    }

    assert over_http == {
        "paqtana/master_inventory": sandbox.master_inventory(),
        "paqtana/historical_demand": sandbox.historical_demand(),
        "paqtana/demand_posts": sandbox.demand_posts(),
        "pixee/products": sandbox.pixee_products(),
    }
    assert over_http["paqtana/historical_demand"] == [
        {
            "location": "L1",
            "code": "A",
            "workspaceCode": "WS-MAIN",
            "date": "2026-06-01",
            "quantity": 4,
        }
    ]
    assert raw.post("/_sandbox/reset").status_code == 200
    assert sandbox.master_inventory() == sandbox.historical_demand() == []
    assert sandbox.demand_posts() == sandbox.pixee_products() == sandbox.requests() == []
    assert sandbox.active_faults() == []


def test_control_needs_no_credentials_but_vendor_paths_do(raw: httpx.Client) -> None:
    """The control surface needs no token, the vendor paths still do."""
    assert raw.get("/_sandbox/requests").status_code == 200
    headers = {"Authorization": f"Bearer {PAQTANA_TOKEN}"}
    assert raw.get("/api/v1/ext/status", headers=headers).status_code == 401
