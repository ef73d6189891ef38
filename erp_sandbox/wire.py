"""What a vendor handler answers, independent of Starlette: a status, a JSON body and headers.
Handlers stay plain Python (testable without a server); routes turn an Answer into a Response.
orjson both ways, so a 32 MB demand body parses in well under a second."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def to_response(self) -> Response:
        return json_response(self.body, self.status, self.headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


class JsonBodyError(ValueError):
    """The request body is not JSON; the message says why in a sentence a client can log."""


def parse_json(body: bytes) -> Any:
    if not body:
        raise JsonBodyError("request body is empty; expected JSON")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise JsonBodyError(f"request body is not valid JSON: {exc}") from None


def is_number(value: Any) -> bool:
    """JSON numbers only: Python's bool is an int, and a pipeline that sends true for a
    quantity has a bug the sandbox should show."""
    return isinstance(value, int | float) and not isinstance(value, bool)
