"""`/_sandbox/...`: runtime control (faults, reset) and inspection of what the vendors hold and
what they were sent. No auth: the server binds 127.0.0.1 only. Lists answer {"data": [...]}."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from erp_sandbox.faults import VENDORS, FaultRule
from erp_sandbox.wire import JsonBodyError, json_response, parse_json

if TYPE_CHECKING:
    from erp_sandbox.app import Sandbox


def parse_fault_rules(payload: Any) -> list[FaultRule]:
    """A rule object, a list of them, or {"rules": [...]}."""
    if isinstance(payload, dict) and "rules" in payload:
        payload = payload["rules"]
    items = payload if isinstance(payload, list) else [payload]
    return [FaultRule.from_dict(item) for item in items]


def routes(sandbox: Sandbox, run: Any) -> list[Route]:
    async def add_faults(request: Request) -> Response:
        try:
            rules = parse_fault_rules(parse_json(await request.body()))
        except (JsonBodyError, ValueError) as exc:
            return json_response({"detail": str(exc)}, 400)
        for rule in rules:
            sandbox.add_fault(rule)
        return json_response(
            {"added": [r.to_dict() for r in rules], "active": sandbox.active_faults()}
        )

    async def list_faults(request: Request) -> Response:
        return json_response({"data": sandbox.active_faults()})

    async def clear_faults(request: Request) -> Response:
        sandbox.clear_faults()
        return json_response({"data": []})

    async def reset(request: Request) -> Response:
        await run(sandbox.reset)
        return json_response({"reset": True})

    async def requests(request: Request) -> Response:
        vendor = request.query_params.get("vendor")
        if vendor is not None and vendor not in (*VENDORS, "unknown"):
            return json_response({"detail": f"unknown vendor {vendor!r}"}, 400)
        return json_response({"data": await run(sandbox.requests, vendor)})

    def reader(read: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return json_response({"data": await run(read)})

        return endpoint

    return [
        Route("/_sandbox/faults", add_faults, methods=["POST"]),
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/requests", requests, methods=["GET"]),
        Route("/_sandbox/paqtana/master_inventory", reader(sandbox.master_inventory)),
        Route("/_sandbox/paqtana/historical_demand", reader(sandbox.historical_demand)),
        Route("/_sandbox/paqtana/demand_posts", reader(sandbox.demand_posts)),
        Route("/_sandbox/pixee/products", reader(sandbox.pixee_products)),
        Route("/_sandbox/pxm/reads", reader(sandbox.pxm_reads)),
    ]
