"""Pixee PIM External API (`/api/v1/ext/...`): status, product reads, upserts, batch upserts and
delta sync, with API-key scopes and per-key sliding-window rate limits.

Every answer is the envelope {success, data, meta, errors}, errors included, except 429 whose
body is {"detail", "retry_after_seconds"} (both from the vendor's pages). Ours, not the vendor's:
- A failed batch item is {"ean", "status": "error", "error": <message>} (the page shows only
  successes); the batch answer is 200 with success true even when items failed.
- Records carry "title" (as the examples show) next to "name" (what clients send).
- is_active and status are kept consistent: is_active is "status == active".
- Unknown product fields and non-string EANs are rejected (the page lists the accepted fields).
- updated_at has second precision; every accepted update moves it, changed or not.
- POST /products answers 200 whether it created or updated (data.created says which).
- `GET /products?updated_since=` is strict ("modified after"); `/products/delta?since=` is
  inclusive ("at or after"), each as its page says.
- The API deletes nothing (the page has no DELETE); a person deletes in the PIM's own UI,
  which `PixeeService.delete_in_pim` imitates. The delta never shows a deletion; the list's
  `meta.total` counts what is left.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from erp_sandbox.clock import Clock, iso_z, parse_iso_datetime
from erp_sandbox.config import PIXEE_READ_SCOPE, PIXEE_WRITE_SCOPE, PixeeConfig
from erp_sandbox.faults import FaultRule
from erp_sandbox.ratelimit import SlidingWindowLimiter
from erp_sandbox.store import SandboxStore
from erp_sandbox.wire import Answer, JsonBodyError, is_number, parse_json

PATH_PREFIX = "/api/v1/ext"
MAX_BATCH = 500
MAX_PAGE_SIZE = 500

TEXT_FIELDS = (
    "name",
    "brand_name",
    "description",
    "short_description",
    "reference",
    "supplier_code",
    "category_id",
    "asin",
    "upc",
    "gtin",
    "status",
    "unit_of_measure",
    "external_id",
    "url_slug",
)
NUMBER_FIELDS = ("weight", "width", "height", "depth")
WRITABLE_FIELDS = (*TEXT_FIELDS, "is_active", *NUMBER_FIELDS)
STATUSES = frozenset({"active", "inactive", "archived"})
_EAN = re.compile(r"^(\d{8}|\d{13})$")


@dataclass(frozen=True)
class Operation:
    bucket: str
    scope: str


OPERATIONS = {
    "status": Operation("read", PIXEE_READ_SCOPE),
    "list": Operation("read", PIXEE_READ_SCOPE),
    "delta": Operation("read", PIXEE_READ_SCOPE),
    "get": Operation("read", PIXEE_READ_SCOPE),
    "upsert": Operation("write", PIXEE_WRITE_SCOPE),
    "replace": Operation("write", PIXEE_WRITE_SCOPE),
    "patch": Operation("write", PIXEE_WRITE_SCOPE),
    "batch": Operation("bulk", PIXEE_WRITE_SCOPE),
}


def meta(now: float, total: int = 1, page: int = 1, page_size: int = 1) -> dict[str, Any]:
    return {"total": total, "page": page, "page_size": page_size, "updated_at": iso_z(now)}


def envelope(data: Any, meta_: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": meta_, "errors": []}


def error_envelope(now: float, *messages: str) -> dict[str, Any]:
    return {
        "success": False,
        "data": None,
        "meta": {"total": 0, "page": 1, "page_size": 0, "updated_at": iso_z(now)},
        "errors": list(messages),
    }


def rate_limited_body(retry_after_s: float | None) -> dict[str, Any]:
    return {"detail": "Rate limit exceeded", "retry_after_seconds": retry_after_s}


def error_for_path(now: float, status: int, message: str, retry_after: float | None) -> Answer:
    """The error shape the gateway uses for faults on Pixee paths (429 has its own body)."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    if status == 429:
        return Answer(429, rate_limited_body(retry_after), headers)
    return Answer(status, error_envelope(now, message), headers)


class ProductInvalid(ValueError):
    """Why one product was refused; becomes a batch item's error or a 422 envelope."""


class PixeeService:
    def __init__(self, config: PixeeConfig, store: SandboxStore, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.limiter = SlidingWindowLimiter(config.limits, clock)

    def call(
        self,
        operation: str,
        *,
        api_key: str | None,
        authorization: str | None = None,
        params: dict[str, str] | None = None,
        body: bytes = b"",
        ean: str | None = None,
        fault: FaultRule | None = None,
    ) -> Answer:
        """Rate limit, then key, then scope, then the operation; every answer carries the
        X-RateLimit headers of the bucket the request counted against."""
        spec = OPERATIONS[operation]
        decision = self.limiter.hit(api_key or "", spec.bucket)
        if not decision.allowed:
            answer = Answer(429, rate_limited_body(decision.retry_after_s))
        else:
            answer = self._authorized(
                spec, operation, api_key, authorization, params or {}, body, ean, fault
            )
        answer.headers.update(decision.headers())
        return answer

    def _authorized(
        self,
        spec: Operation,
        operation: str,
        api_key: str | None,
        authorization: str | None,
        params: dict[str, str],
        body: bytes,
        ean: str | None,
        fault: FaultRule | None,
    ) -> Answer:
        now = self.clock()
        if not api_key or api_key not in self.config.api_keys:
            message = "Missing or invalid API key (X-API-Key header)"
            if not api_key and authorization:
                message += "; Authorization: Bearer is no longer accepted"
            return Answer(401, error_envelope(now, message))
        scopes = self.config.api_keys[api_key]
        if spec.scope not in scopes:
            return Answer(403, error_envelope(now, f"API key lacks required scope {spec.scope}"))
        try:
            if operation == "status":
                return self._status(api_key, scopes)
            if operation in ("list", "delta"):
                return self._list(operation, params)
            if operation == "get":
                return self._get(ean or "")
            payload = parse_json(body)
            if operation == "batch":
                return self._batch(payload, fault)
            if not isinstance(payload, dict):
                raise ProductInvalid("body must be a JSON object")
            if operation == "upsert":
                return self._upsert(payload)
            return self._update(ean or "", payload, replace=operation == "replace")
        except JsonBodyError as exc:
            return Answer(400, error_envelope(now, str(exc)))
        except ProductInvalid as exc:
            return Answer(422, error_envelope(now, str(exc)))

    def delete_in_pim(self, ean: str) -> bool:
        """A product deleted by a person in the PIM (not through the External API)."""
        return self.store.delete_product(ean)

    # Reads -----------------------------------------------------------------------------------

    def _status(self, api_key: str, scopes: list[str]) -> Answer:
        now = self.clock()
        name = self.config.api_key_names.get(api_key, api_key[:8])
        data = {
            "status": "ok",
            "version": self.config.version,
            "api_key_name": name,
            "api_key_scopes": list(scopes),
            "timestamp": iso_z(now),
        }
        return Answer(200, envelope(data, meta(now)))

    def _get(self, ean: str) -> Answer:
        now = self.clock()
        record = self.store.product(ean)
        if record is None:
            return _not_found(now, ean)
        return Answer(200, envelope(public_record(record), meta(now)))

    def _list(self, operation: str, params: dict[str, str]) -> Answer:
        now = self.clock()
        default_size = 100 if operation == "delta" else 50
        page = _positive_int(params.get("page"), "page", 1)
        page_size = _positive_int(params.get("page_size"), "page_size", default_size)
        if page_size > MAX_PAGE_SIZE:
            raise ProductInvalid(f"page_size must be at most {MAX_PAGE_SIZE}")
        if operation == "delta":
            since = params.get("since")
            if not since:
                raise ProductInvalid("query parameter 'since' is required")
            records, total = self.store.products(
                updated_from=_iso_bound(since, "since"),
                inclusive=True,
                order="updated",
                offset=(page - 1) * page_size,
                limit=page_size,
            )
        else:
            since = params.get("updated_since")
            records, total = self.store.products(
                supplier_code=params.get("supplier_code"),
                updated_from=_iso_bound(since, "updated_since") if since else None,
                inclusive=False,
                offset=(page - 1) * page_size,
                limit=page_size,
            )
        data = [public_record(r) for r in records]
        return Answer(200, envelope(data, meta(now, total, page, page_size)))

    # Writes ----------------------------------------------------------------------------------

    def _upsert(self, payload: dict[str, Any]) -> Answer:
        with self.store.transaction():
            record, created = self._upsert_one(payload)
        data = {
            "created": created,
            "ean": record["ean"],
            "id": record["id"],
            "product": public_record(record),
        }
        return Answer(200, envelope(data, meta(self.clock())))

    def _update(self, ean: str, payload: dict[str, Any], *, replace: bool) -> Answer:
        now = self.clock()
        if "ean" in payload and payload["ean"] != ean:
            raise ProductInvalid(f"body ean {payload['ean']!r} differs from the path EAN {ean!r}")
        fields = _clean_fields(payload)
        with self.store.transaction():
            record = self.store.product(ean)
            if record is None:
                return _not_found(now, ean)
            if replace:
                changes = {name: fields.get(name) for name in WRITABLE_FIELDS}
            else:
                changes = {k: v for k, v in fields.items() if v is not None}
            record = _apply(record, changes, now)
            self.store.save_product(record)
        return Answer(200, envelope(public_record(record), meta(now)))

    def _batch(self, payload: Any, fault: FaultRule | None) -> Answer:
        now = self.clock()
        if not isinstance(payload, dict) or not isinstance(payload.get("products"), list):
            raise ProductInvalid('body must be a JSON object with a "products" list')
        products = payload["products"]
        if len(products) > MAX_BATCH:
            raise ProductInvalid(
                f"a batch holds at most {MAX_BATCH} products; this one has {len(products)}"
            )
        results: list[dict[str, Any]] = []
        counts = {"created": 0, "updated": 0, "errors": 0}
        with self.store.transaction():
            for position, product in enumerate(products):
                ean = product.get("ean") if isinstance(product, dict) else None
                try:
                    if _fault_hits(fault, position, ean):
                        assert fault is not None
                        raise ProductInvalid(fault.message)
                    if not isinstance(product, dict):
                        raise ProductInvalid("product must be a JSON object")
                    record, created = self._upsert_one(product)
                except ProductInvalid as exc:
                    counts["errors"] += 1
                    results.append({"ean": ean, "status": "error", "error": str(exc)})
                    continue
                status = "created" if created else "updated"
                counts[status] += 1
                results.append({"ean": record["ean"], "status": status, "id": record["id"]})
        data = {"total": len(products), **counts, "results": results}
        return Answer(200, envelope(data, meta(now, len(products), 1, len(products))))

    def _upsert_one(self, payload: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create (name required) or update non-null fields; the caller holds a transaction."""
        now = self.clock()
        ean = payload.get("ean")
        _check_ean(ean)
        fields = _clean_fields(payload)
        record = self.store.product(ean)
        if record is None:
            name = fields.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ProductInvalid(f"name is required to create product {ean}")
            stamp = iso_z(now)
            record = {
                "id": str(uuid.uuid4()),
                "ean": ean,
                **dict.fromkeys(WRITABLE_FIELDS),
                "created_at": stamp,
                "updated_at": stamp,
            }
            record = _apply(record, fields, now)
            self.store.save_product(record)
            return record, True
        record = _apply(record, {k: v for k, v in fields.items() if v is not None}, now)
        self.store.save_product(record)
        return record, False


def _fault_hits(fault: FaultRule | None, position: int, ean: Any) -> bool:
    if fault is None or fault.kind != "partial_batch":
        return False
    return position < fault.first or (ean is not None and str(ean) in fault.eans)


def _not_found(now: float, ean: str) -> Answer:
    # The vendor's own message, as its error example shows it.
    return Answer(404, error_envelope(now, f"Produit avec EAN '{ean}' introuvable."))


def _check_ean(ean: Any) -> None:
    if not isinstance(ean, str) or not _EAN.match(ean):
        raise ProductInvalid(f"ean must be a string of 8 or 13 digits, got {ean!r}")


def _clean_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a payload, type-checked; `ean` is handled by the caller."""
    unknown = sorted(set(payload) - set(WRITABLE_FIELDS) - {"ean"})
    if unknown:
        raise ProductInvalid(f"unknown product field(s): {', '.join(unknown)}")
    fields = {k: v for k, v in payload.items() if k != "ean"}
    for name, value in fields.items():
        if value is None:
            continue
        if name in TEXT_FIELDS and not isinstance(value, str):
            raise ProductInvalid(f"{name} must be a string, got {value!r}")
        if name in NUMBER_FIELDS and not is_number(value):
            raise ProductInvalid(f"{name} must be a number, got {value!r}")
        if name == "is_active" and not isinstance(value, bool):
            raise ProductInvalid(f"is_active must be a boolean, got {value!r}")
    status = fields.get("status")
    if status is not None and status not in STATUSES:
        raise ProductInvalid(f"status must be one of {sorted(STATUSES)}, got {status!r}")
    category = fields.get("category_id")
    if category is not None:
        try:
            uuid.UUID(category)
        except ValueError:
            raise ProductInvalid(f"category_id must be a UUID, got {category!r}") from None
    is_active = fields.get("is_active")
    if status is not None and is_active is not None and is_active != (status == "active"):
        raise ProductInvalid(f"is_active={is_active} contradicts status={status!r}")
    return fields


def _apply(record: dict[str, Any], changes: dict[str, Any], now: float) -> dict[str, Any]:
    updated = {**record, **changes, "updated_at": iso_z(now)}
    # is_active is shorthand for status == "active": whichever was sent drives the other.
    if changes.get("status") is not None:
        updated["is_active"] = changes["status"] == "active"
    elif changes.get("is_active") is not None:
        updated["status"] = "active" if changes["is_active"] else "inactive"
    return updated


def public_record(record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "ean": record["ean"], "title": record["name"], **record}


def _positive_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProductInvalid(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ProductInvalid(f"{name} must be at least 1")
    return value


def _iso_bound(raw: str, name: str) -> str:
    """The stored-text form of a since bound, floored to the second: a client never misses a
    product by sending a fraction."""
    moment = parse_iso_datetime(raw)
    if moment is None:
        raise ProductInvalid(f"{name} must be an ISO 8601 datetime, got {raw!r}")
    return iso_z(moment.timestamp())


def routes(service: PixeeService, run: Any) -> list[Route]:
    """Starlette routes; `run` moves the blocking handler off the event loop."""

    def endpoint(operation: str) -> Any:
        async def handle(request: Request) -> Response:
            body = await request.body()
            answer = await run(
                lambda: service.call(
                    operation,
                    api_key=request.headers.get("x-api-key"),
                    authorization=request.headers.get("authorization"),
                    params=dict(request.query_params),
                    body=body,
                    ean=request.path_params.get("ean"),
                    fault=request.scope.get("sandbox.fault"),
                )
            )
            return answer.to_response()

        return handle

    base = PATH_PREFIX
    return [
        Route(f"{base}/status", endpoint("status"), methods=["GET"]),
        Route(f"{base}/products/batch", endpoint("batch"), methods=["POST"]),
        Route(f"{base}/products/delta", endpoint("delta"), methods=["GET"]),
        Route(f"{base}/products", endpoint("list"), methods=["GET"]),
        Route(f"{base}/products", endpoint("upsert"), methods=["POST"]),
        Route(f"{base}/products/{{ean}}", endpoint("get"), methods=["GET"]),
        Route(f"{base}/products/{{ean}}", endpoint("replace"), methods=["PUT"]),
        Route(f"{base}/products/{{ean}}", endpoint("patch"), methods=["PATCH"]),
    ]
