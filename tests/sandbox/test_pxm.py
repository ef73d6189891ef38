"""Contract of the PXM imitation: the client-credentials token flow, paged reads, the read
counts, a catalog loaded from a file, and the absence of writes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from erp_sandbox import (
    ManualClock,
    PxmCatalog,
    PxmConfig,
    Sandbox,
    SandboxConfig,
    default_pxm_catalog,
    run_sandbox,
)

CLIENT = ("sandbox-pxm-client", "sandbox-pxm-secret")
GRANT = {"grant_type": "client_credentials"}


def token(client: httpx.Client, auth: tuple[str, str] = CLIENT, body: dict = GRANT) -> str:
    response = client.post("/v2.1/oauth/authorize", auth=auth, json=body)
    assert response.status_code == 200
    return response.json()["access_token"]


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def test_client_credentials_give_a_bearer_token(raw: httpx.Client) -> None:
    response = raw.post("/v2.1/oauth/authorize", auth=CLIENT, json=GRANT)

    body = response.json()
    assert (response.status_code, body["token_type"], body["expires_in"]) == (200, "Bearer", 3600)
    collections = raw.get("/v2.1/collection", headers=bearer(body["access_token"]))
    assert collections.status_code == 200


@pytest.mark.parametrize(
    ("auth", "body", "status", "error"),
    [
        (("sandbox-pxm-client", "wrong"), GRANT, 401, "invalid_client"),
        (None, GRANT, 401, "invalid_client"),
        (CLIENT, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (CLIENT, None, 400, "invalid_request"),
    ],
    ids=["wrong-secret", "no-basic-auth", "wrong-grant", "no-body"],
)
def test_wrong_credentials_or_grant_get_no_token(
    raw: httpx.Client, auth: tuple[str, str] | None, body: dict | None, status: int, error: str
) -> None:
    response = raw.post("/v2.1/oauth/authorize", auth=auth, json=body)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_reads_need_a_valid_unexpired_token(raw: httpx.Client, clock: ManualClock) -> None:
    access_token = token(raw)

    missing = raw.get("/v2.1/collection")
    unknown = raw.get("/v2.1/collection", headers=bearer("made-up"))
    fresh = raw.get("/v2.1/category", headers=bearer(access_token))
    clock.advance(3600)
    expired = raw.get("/v2.1/category", headers=bearer(access_token))

    assert [r.status_code for r in (missing, unknown, fresh, expired)] == [401, 401, 200, 401]
    assert expired.json()["error"] == "invalid_token"
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert raw.get("/v2.1/category", headers=bearer(token(raw))).status_code == 200


def test_collections_page_with_limit_and_offset(raw: httpx.Client) -> None:
    headers = bearer(token(raw))
    catalog = default_pxm_catalog().collections

    default = raw.get("/v2.1/collection", headers=headers).json()
    middle = raw.get("/v2.1/collection", headers=headers, params={"limit": 3, "offset": 2}).json()
    past_end = raw.get("/v2.1/collection", headers=headers, params={"offset": 7}).json()

    assert (default["total"], default["limit"], default["offset"]) == (7, 50, 0)
    assert default["data"] == catalog
    assert [c["id"] for c in middle["data"]] == [c["id"] for c in catalog[2:5]]
    assert (middle["limit"], middle["offset"]) == (3, 2)
    assert (past_end["data"], past_end["total"]) == ([], 7)
    keys = {
        "id",
        "name",
        "parent_id",
        "updated_date",
        "additional_title",
        "region_ids",
        "collection_type",
        "attributes",
    }
    assert set(default["data"][1]) == keys
    assert set(default["data"][1]["attributes"][0]) == {"id", "label", "value"}


@pytest.mark.parametrize("params", [{"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "x"}])
def test_paging_outside_the_bounds_is_400(raw: httpx.Client, params: dict) -> None:
    response = raw.get("/v2.1/collection", headers=bearer(token(raw)), params=params)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_collections_filter_by_parent(raw: httpx.Client) -> None:
    headers = bearer(token(raw))

    variants = raw.get("/v2.1/collection", headers=headers, params={"parent_id": 2001}).json()
    parents = raw.get("/v2.1/collection", headers=headers, params={"parent_id": "null"}).json()

    assert [c["id"] for c in variants["data"]] == [2002, 2003]
    assert [c["id"] for c in parents["data"]] == [1001, 2001]


def test_categories_and_attributes_are_served(raw: httpx.Client) -> None:
    headers = bearer(token(raw))

    categories = raw.get("/v2.1/category", headers=headers).json()
    attributes = raw.get("/v2.1/attribute", headers=headers, params={"limit": 2}).json()

    assert categories["data"] == default_pxm_catalog().categories
    assert ([a["label"] for a in attributes["data"]], attributes["total"]) == (
        ["Color", "Size"],
        3,
    )


def test_reads_are_counted_per_day_per_endpoint(
    raw: httpx.Client, sandbox: Sandbox, clock: ManualClock
) -> None:
    headers = bearer(token(raw))
    raw.get("/v2.1/collection", headers=headers, params={"offset": 0})
    raw.get("/v2.1/collection", headers=headers, params={"offset": 50})
    raw.get("/v2.1/category", headers=headers)
    clock.advance(86_400)
    raw.get("/v2.1/collection", headers=bearer(token(raw)))

    assert sandbox.pxm_reads() == [
        {"day": "2026-06-19", "endpoint": "/v2.1/category", "requests": 1},
        {"day": "2026-06-19", "endpoint": "/v2.1/collection", "requests": 2},
        {"day": "2026-06-20", "endpoint": "/v2.1/collection", "requests": 1},
    ]
    assert raw.get("/_sandbox/pxm/reads").json()["data"] == sandbox.pxm_reads()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_there_is_no_write_endpoint(raw: httpx.Client, method: str) -> None:
    response = raw.request(
        method, "/v2.1/collection", headers=bearer(token(raw)), json={"id": 1, "name": "x"}
    )

    assert response.status_code == 405


def test_catalog_loads_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(
        json.dumps(
            {
                "collections": [{"id": "c1", "name": "Only"}],
                "categories": [{"id": 9, "name": "Root", "parent_id": None}],
                "attributes": [],
            }
        )
    )
    config = SandboxConfig(pxm=PxmConfig(catalog=PxmCatalog.from_json_file(path)))
    with run_sandbox(config) as sandbox, httpx.Client(base_url=sandbox.pxm_url) as client:
        collections = client.get("/v2.1/collection", headers=bearer(token(client))).json()

    assert collections["data"] == [
        {
            "id": "c1",
            "name": "Only",
            "parent_id": None,
            "updated_date": None,
            "additional_title": None,
            "region_ids": [],
            "collection_type": "parent",
            "attributes": [],
        }
    ]


def test_a_catalog_file_without_the_three_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"collections": []}))

    with pytest.raises(ValueError, match="categories"):
        PxmCatalog.from_json_file(path)
