"""Manual Pixee corrections: read a CSV of per-EAN field values, send one PATCH (or PUT) per EAN,
and report each EAN's outcome. Plain Python with no Dagster import (the job that runs it is
`pixee_patch_products.py` beside it), so it is tested without a Dagster run.

The file: an `ean` column plus one column per Pixee product field to set (names as on the vendor
page's "Product fields" table). An empty cell means "not in the request": with PATCH the field
keeps its value in Pixee; with PUT, which replaces every writable field, it becomes null.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from stdnum import ean as stdnum_ean

from pipelines.core.atomic_file import atomic_path
from pipelines.core.http import VendorError
from pipelines.core.pixee.client import (
    WRITE_SCOPE,
    MissingScopeError,
    PixeeClient,
    ProductNotFoundError,
)
from pipelines.core.pixee.payloads import WRITABLE_FIELDS

# Vendor page, "Product fields": these are numbers and a boolean; every other field is a string.
NUMBER_FIELDS = frozenset({"weight", "width", "height", "depth"})
BOOLEAN_FIELDS = frozenset({"is_active"})
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
# Vendor page: an EAN is 8 or 13 digits.
EAN_PATTERN = re.compile(r"\d{8}|\d{13}")
RESULT_COLUMNS = ("ean", "status", "message")


class Method(StrEnum):
    PATCH = "PATCH"  # only the fields sent change
    PUT = "PUT"  # every writable field is replaced; fields left out become null


class Status(StrEnum):
    UPDATED = "updated"  # Pixee accepted the change
    DRY_RUN = "dry_run"  # written to the outbox, Pixee not called
    NOT_FOUND = "not_found"  # Pixee has no product with this EAN (PUT and PATCH never create)
    REFUSED = "refused"  # Pixee answered with an error for this product (e.g. 422)
    INVALID = "invalid"  # not sent: the row itself is wrong
    ERROR = "error"  # the request failed (key refused, vendor unreachable): the run stopped here
    NOT_SENT = "not_sent"  # not sent: the run stopped before this row (key refused, vendor down)


SUCCESSFUL = frozenset({Status.UPDATED, Status.DRY_RUN})


class CorrectionsFileError(ValueError):
    """The file cannot be used at all (missing, no `ean` column, unknown columns, no rows)."""


class PutNotConfirmedError(ValueError):
    """`method: PUT` without `confirm_put: true`: refused before any request."""


def require_put_confirmed(method: Method, confirm_put: bool, fields: tuple[str, ...]) -> None:
    """PUT replaces every writable field, so each one the file does not name becomes null in
    Pixee (vendor page, "Full update (PUT)"): a person says so explicitly, or nothing is sent."""
    if method is not Method.PUT or confirm_put:
        return
    nulled = [f for f in WRITABLE_FIELDS if f != "ean" and f not in fields]
    raise PutNotConfirmedError(
        "method: PUT replaces the whole product: every field not in the file becomes null in "
        f"Pixee ({', '.join(nulled)}). Nothing was sent. To change only the fields in the file "
        "use method: PATCH; to replace the products on purpose add confirm_put: true to the "
        "op config."
    )


@dataclass(frozen=True)
class Correction:
    line: int  # line in the file where the row ends (the header is line 1)
    ean: str
    body: dict[str, Any]  # the request body, without the EAN


@dataclass(frozen=True)
class Result:
    ean: str
    status: Status
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in SUCCESSFUL


@dataclass(frozen=True)
class CorrectionsFile:
    fields: tuple[str, ...]
    rows: list[Correction | Result]  # in file order; a Result is a row refused before sending

    @property
    def corrections(self) -> list[Correction]:
        return [r for r in self.rows if isinstance(r, Correction)]


def read_corrections(path: Path) -> CorrectionsFile:
    """Parse and type the file. Whole-file problems raise CorrectionsFileError before anything is
    sent; a bad row becomes an `invalid` Result and the other rows still go."""
    if not path.is_file():
        raise CorrectionsFileError(f"corrections file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel's BOM
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        fields = _check_header(path, header)
        rows: list[Correction | Result] = []
        lines: dict[str, list[int]] = {}
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            row = _parse_row(dict(zip(header, cells, strict=False)), fields, reader.line_num)
            rows.append(row)
            lines.setdefault(row.ean, []).append(reader.line_num)
    # Two rows for one EAN: which one is meant is a person's call, so neither is sent.
    for i, row in enumerate(rows):
        if len(lines[row.ean]) > 1:
            listed = ", ".join(str(n) for n in lines[row.ean])
            rows[i] = Result(
                row.ean, Status.INVALID, f"EAN on lines {listed}; one correction per EAN"
            )
    if not rows:
        raise CorrectionsFileError(f"corrections file {path} has no rows")
    return CorrectionsFile(fields, rows)


def _check_header(path: Path, header: list[str]) -> tuple[str, ...]:
    if "ean" not in header:
        raise CorrectionsFileError(f"{path}: no 'ean' column (header: {', '.join(header)})")
    duplicated = sorted({n for n in header if header.count(n) > 1})
    if duplicated:
        raise CorrectionsFileError(f"{path}: column(s) named twice: {', '.join(duplicated)}")
    fields = tuple(n for n in header if n != "ean")
    unknown = [n for n in fields if n not in WRITABLE_FIELDS]
    if unknown:
        raise CorrectionsFileError(
            f"{path}: unknown Pixee field(s) {', '.join(unknown)}; accepted: "
            f"{', '.join(f for f in WRITABLE_FIELDS if f != 'ean')}"
        )
    if not fields:
        raise CorrectionsFileError(f"{path}: no field column next to 'ean'")
    return fields


def _parse_row(row: dict[str, str], fields: tuple[str, ...], line: int) -> Correction | Result:
    ean = (row.get("ean") or "").strip()
    if not EAN_PATTERN.fullmatch(ean) or not stdnum_ean.is_valid(ean):
        return Result(ean, Status.INVALID, f"line {line}: not a valid EAN-8/EAN-13: {ean!r}")
    body: dict[str, Any] = {}
    for name in fields:
        raw = row.get(name) or ""
        if not raw.strip():
            continue
        try:
            body[name] = _typed(name, raw)
        except ValueError as exc:
            return Result(ean, Status.INVALID, f"line {line}: {exc}")
    if not body:
        return Result(ean, Status.INVALID, f"line {line}: no value to send")
    return Correction(line, ean, body)


def _typed(name: str, raw: str) -> Any:
    text = raw.strip()
    if name in NUMBER_FIELDS:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite number, got {raw!r}")
        return number
    if name in BOOLEAN_FIELDS:
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"{name} must be true or false, got {raw!r}")
    return raw


def send_corrections(
    client: PixeeClient,
    corrections: CorrectionsFile,
    method: Method,
    *,
    dry_run: bool = False,
    on_result: Callable[[int, Result], None] = lambda _n, _r: None,
) -> list[Result]:
    """One request per EAN, in file order, paced by the client. A 404 or another refusal of one
    product is that product's result; a refused key or a vendor that stays unreachable after the
    client's retries stops the run, and the rows not reached are `not_sent`."""
    results: list[Result] = []
    try:
        if not dry_run:
            client.require_scopes(WRITE_SCOPE)
        for row in corrections.rows:
            if isinstance(row, Correction):
                try:
                    result = _send_one(client, row, method, dry_run)
                except VendorError as exc:
                    results.append(Result(row.ean, Status.ERROR, str(exc)))
                    raise
            else:
                result = row
            results.append(result)
            on_result(len(results), result)
    except (MissingScopeError, VendorError) as exc:
        results += [
            r if isinstance(r, Result) else Result(r.ean, Status.NOT_SENT, f"not sent: {exc}")
            for r in corrections.rows[len(results) :]
        ]
        raise CorrectionsStopped(results, str(exc)) from exc
    return results


def _send_one(client: PixeeClient, row: Correction, method: Method, dry_run: bool) -> Result:
    send = client.patch_product if method is Method.PATCH else client.put_product
    try:
        data = send(row.ean, row.body)
    except ProductNotFoundError as exc:
        return Result(row.ean, Status.NOT_FOUND, f"EAN {row.ean} not found in Pixee: {exc.detail}")
    except VendorError as exc:
        if exc.retryable or exc.status in (401, 403):
            raise  # the request did not get through; the next ones would not either
        return Result(row.ean, Status.REFUSED, str(exc))
    if dry_run:
        return Result(row.ean, Status.DRY_RUN, "written to the outbox; Pixee not called")
    updated_at = data.get("updated_at")
    return Result(row.ean, Status.UPDATED, f"updated_at {updated_at}" if updated_at else "")


class CorrectionsStopped(Exception):
    """The run stopped part-way; `results` covers every row (the rest as `not_sent`)."""

    def __init__(self, results: list[Result], reason: str) -> None:
        self.results = results
        self.reason = reason
        super().__init__(reason)


def write_results(path: Path, results: Iterable[Result]) -> Path:
    """The per-EAN outcome file, written whole (tmp + rename) so a reader never sees half."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(RESULT_COLUMNS)
        writer.writerows((r.ean, r.status.value, r.message) for r in results)
    return path


def corrected_eans(results: Iterable[Result]) -> list[str]:
    """EANs whose correction Pixee took: their ERP-owned fields must go out again with the next
    daily send (the synced hash no longer says what Pixee holds)."""
    return [r.ean for r in results if r.status is Status.UPDATED]


def summary(results: list[Result]) -> dict[str, int]:
    """Count per status, every status listed (zeros included) so the UI table is stable."""
    return {s.value: sum(1 for r in results if r.status is s) for s in Status}
