"""Paqtana (`/v2/org/{org}/...`): workspaces, master inventory (PUT replaces everything) and
historical demand (POST merges by location + code + day).

Shapes the vendor page does not show come from a public integration (see EVIDENCE.md) or are
ours; they are named here:
- Errors: {"operation_type": <endpoint>, "operation_info": {"validation_error": <message>}}
  (evidence).
- Success bodies of PUT/POST: {"operation_type", "operation_info": {"status": "ok", ...counts}}
  (ours: the real answer is not public).
- Strictness (ours, so a pipeline bug shows here rather than in production): unknown row
  fields, non-string keys, non-numeric quantities/stock and a day repeated inside one demand row
  are 422.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from erp_sandbox.clock import Clock
from erp_sandbox.config import PaqtanaConfig
from erp_sandbox.store import DemandSeries, SandboxStore
from erp_sandbox.wire import Answer, JsonBodyError, is_number, parse_json

PATH_PREFIX = "/v2/org/"
# The one place that names the demand write method (the vendor page says POST; an integrator
# used PUT).
HISTORICAL_DEMAND_METHOD = "POST"

KEY_FIELDS = ("location", "code", "workspaceCode")
INVENTORY_NUMBER_FIELDS = (
    "multipleOrderQuantity",
    "unitCost",
    "minimumOrderQuantity",
    "supplyLeadTime",
    "onHandStock",
    "transitStock",
    "openDemandOrders",
)
INVENTORY_TEXT_FIELDS = ("description", "materialType", "currency", "unitOfMeasure")
INVENTORY_FIELDS = frozenset(
    (*KEY_FIELDS, *INVENTORY_NUMBER_FIELDS, *INVENTORY_TEXT_FIELDS, "additionalColumns")
)
DEMAND_FIELDS = frozenset((*KEY_FIELDS, "dates", "quantities"))
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def operation_type(path: str) -> str:
    """The endpoint name Paqtana's errors carry: the last path segment."""
    return path.rstrip("/").rsplit("/", 1)[-1] or "unknown"


def error_answer(
    status: int, operation: str, message: str, headers: dict[str, str] | None = None
) -> Answer:
    return Answer(
        status,
        {"operation_type": operation, "operation_info": {"validation_error": message}},
        dict(headers or {}),
    )


def error_for_path(path: str, status: int, message: str, retry_after: float | None) -> Answer:
    """The error shape the gateway uses for faults and 413s on Paqtana paths."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return error_answer(status, operation_type(path), message, headers)


class RowInvalid(ValueError):
    """A 422 reason naming the row index and field, e.g. `data[3].workspaceCode: ...`."""


class PaqtanaService:
    def __init__(self, config: PaqtanaConfig, store: SandboxStore, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock

    def _refusal(self, authorization: str | None, org: str, operation: str) -> Answer | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.config.token:
            return error_answer(401, operation, "Invalid or missing token")
        if org != self.config.org:
            return error_answer(404, operation, f"Organization '{org}' not found")
        return None

    def workspaces(self, authorization: str | None, org: str) -> Answer:
        if refusal := self._refusal(authorization, org, "workspaces"):
            return refusal
        codes = [[name, code] for name, code in self.config.workspaces]
        return Answer(
            200,
            {
                "operation_type": "workspaces",
                "operation_info": {"workspaces_info": {"workspace_codes": codes}},
            },
        )

    def put_master_inventory(self, authorization: str | None, org: str, body: bytes) -> Answer:
        operation = "master_inventory"
        if refusal := self._refusal(authorization, org, operation):
            return refusal
        try:
            rows = self._data_rows(body)
            for index, row in enumerate(rows):
                self._check_inventory_row(index, row)
        except (JsonBodyError, RowInvalid) as exc:
            return error_answer(422, operation, str(exc))
        self.store.replace_inventory(rows)
        return Answer(
            200,
            {"operation_type": operation, "operation_info": {"status": "ok", "rows": len(rows)}},
        )

    def post_historical_demand(
        self, authorization: str | None, org: str, body: bytes, query: str, auto_flag: str | None
    ) -> Answer:
        operation = "historical_demand"
        if refusal := self._refusal(authorization, org, operation):
            return refusal
        # Only the documented spelling (and its lower-case twin) asks for a recalculation.
        auto_calculate = auto_flag in ("True", "true")
        try:
            rows = self._data_rows(body)
            series, points = self._demand_series(rows)
        except (JsonBodyError, RowInvalid) as exc:
            return error_answer(422, operation, str(exc))
        with self.store.transaction():
            self.store.merge_demand(series)
            self.store.add_demand_post(
                self.clock(), len(rows), points, len(body), auto_calculate, query
            )
        return Answer(
            200,
            {
                "operation_type": operation,
                "operation_info": {
                    "status": "ok",
                    "rows": len(rows),
                    "points": points,
                    "auto_calculate": auto_calculate,
                },
            },
        )

    # Validation ------------------------------------------------------------------------------

    @staticmethod
    def _data_rows(body: bytes) -> list[Any]:
        payload = parse_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            raise RowInvalid('body must be a JSON object with a "data" list')
        return payload["data"]

    def _check_keys(self, index: int, row: Any, allowed: frozenset[str]) -> None:
        if not isinstance(row, dict):
            raise RowInvalid(f"data[{index}]: row must be an object")
        unknown = sorted(set(row) - allowed)
        if unknown:
            raise RowInvalid(f"data[{index}].{unknown[0]}: unknown field")
        for name in KEY_FIELDS:
            value = row.get(name)
            if not isinstance(value, str) or not value.strip():
                raise RowInvalid(f"data[{index}].{name}: required non-empty string")
        if row["workspaceCode"] not in self.config.workspace_codes:
            raise RowInvalid(
                f"data[{index}].workspaceCode: '{row['workspaceCode']}' is not a workspace "
                f"of organization '{self.config.org}'"
            )

    def _check_inventory_row(self, index: int, row: Any) -> None:
        self._check_keys(index, row, INVENTORY_FIELDS)
        for name in INVENTORY_NUMBER_FIELDS:
            value = row.get(name)
            if value is not None and not is_number(value):
                raise RowInvalid(f"data[{index}].{name}: must be a number, got {value!r}")
        for name in INVENTORY_TEXT_FIELDS:
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                raise RowInvalid(f"data[{index}].{name}: must be a string, got {value!r}")
        extra = row.get("additionalColumns")
        if extra is not None and not isinstance(extra, list):
            raise RowInvalid(f"data[{index}].additionalColumns: must be a list")

    def _demand_series(self, rows: list[Any]) -> tuple[dict[tuple[str, str], DemandSeries], int]:
        """Validated rows as {(location, code): (workspaceCode, {day: quantity})} and the
        number of points. Checks run per row on sets and types (C speed), not per point."""
        series: dict[tuple[str, str], DemandSeries] = {}
        points = 0
        valid_days: set[str] = set()  # a year of rows repeats the same 365 strings
        for index, row in enumerate(rows):
            self._check_keys(index, row, DEMAND_FIELDS)
            days, quantities = row.get("dates"), row.get("quantities")
            if not isinstance(days, list) or not isinstance(quantities, list):
                raise RowInvalid(f"data[{index}]: dates and quantities must be lists")
            if len(days) != len(quantities):
                raise RowInvalid(
                    f"data[{index}]: dates has {len(days)} items but quantities has "
                    f"{len(quantities)}"
                )
            if not set(map(type, days)) <= {str}:
                position = next(i for i, d in enumerate(days) if not isinstance(d, str))
                raise RowInvalid(
                    f"data[{index}].dates[{position}]: {days[position]!r} is not an ISO date "
                    "(YYYY-MM-DD)"
                )
            distinct = set(days)
            for day in distinct - valid_days:
                if not _is_iso_day(day):
                    raise RowInvalid(
                        f"data[{index}].dates[{days.index(day)}]: {day!r} is not an ISO date "
                        "(YYYY-MM-DD)"
                    )
            valid_days |= distinct
            if len(distinct) != len(days):
                raise RowInvalid(f"data[{index}].dates: a day appears twice in one row")
            if not set(map(type, quantities)) <= {int, float}:
                position = next(i for i, q in enumerate(quantities) if not is_number(q))
                raise RowInvalid(
                    f"data[{index}].quantities[{position}]: must be a number, "
                    f"got {quantities[position]!r}"
                )
            key = (row["location"], row["code"])
            earlier = series.get(key, ("", {}))[1]
            series[key] = (
                row["workspaceCode"],
                {**earlier, **dict(zip(days, quantities, strict=True))},
            )
            points += len(days)
        return series, points


def _is_iso_day(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO_DAY.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def routes(service: PaqtanaService, run: Any) -> list[Route]:
    """Starlette routes; `run` moves the blocking handler off the event loop."""

    async def workspaces(request: Request) -> Response:
        answer = await run(
            service.workspaces, request.headers.get("authorization"), request.path_params["org"]
        )
        return answer.to_response()

    async def master_inventory(request: Request) -> Response:
        body = await request.body()
        answer = await run(
            service.put_master_inventory,
            request.headers.get("authorization"),
            request.path_params["org"],
            body,
        )
        return answer.to_response()

    async def historical_demand(request: Request) -> Response:
        body = await request.body()
        answer = await run(
            service.post_historical_demand,
            request.headers.get("authorization"),
            request.path_params["org"],
            body,
            request.url.query,
            request.query_params.get("auto_calculate"),
        )
        return answer.to_response()

    return [
        Route("/v2/org/{org}/workspaces", workspaces, methods=["GET"]),
        Route("/v2/org/{org}/master_inventory", master_inventory, methods=["PUT"]),
        Route(
            "/v2/org/{org}/historical_demand",
            historical_demand,
            methods=[HISTORICAL_DEMAND_METHOD],
        ),
    ]
