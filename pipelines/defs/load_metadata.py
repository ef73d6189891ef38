"""Metadata every load materialization shows: traffic, waits, cadence decision, failures."""

import dagster as dg
import pandas as pd

from pipelines.core.cadence.ledger import Decision
from pipelines.core.http import CallStats


def traffic(stats: CallStats | None) -> dict[str, dg.MetadataValue | int | float | str]:
    if stats is None or not stats.requests:
        return {"requests_sent": 0}
    rows = [
        "| # | method | endpoint | status | bytes | seconds | attempt |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(stats.requests[:50], 1):
        status = r.status if r.status is not None else "no answer"
        cells = [i, r.method, r.endpoint, status, r.bytes_sent, f"{r.seconds:.2f}", r.attempt]
        rows.append("| " + " | ".join(str(c) for c in cells) + " |")
    if len(stats.requests) > 50:
        rows.append(f"| ... | {len(stats.requests) - 50} more | | | | | |")
    return {
        "requests_sent": len(stats.requests),
        "status_codes": dg.MetadataValue.json(stats.status_counts()),
        "bytes_sent": stats.bytes_sent,
        "retries": stats.retries,
        "seconds_waited": round(stats.waited_s, 3),
        "requests": dg.MetadataValue.md("\n".join(rows)),
    }


def cadence(decision: Decision | None, note: str | None = None) -> dict[str, str]:
    if decision is None:
        return {"cadence": note or "not asked: nothing to send"}
    return {"cadence": decision.label}


def failures_table(failures: dict[str, str], key: str = "ean", limit: int = 25) -> dg.MetadataValue:
    rows = [f"| {key} | vendor message |", "|---|---|"]
    for k, message in list(failures.items())[:limit]:
        rows.append(f"| {k} | {str(message).replace('|', '/')} |")
    if len(failures) > limit:
        rows.append(f"| ... | {len(failures) - limit} more in the rejects file |")
    return dg.MetadataValue.md("\n".join(rows))


def vendor_rejects(failures: dict[str, str], field: str, file: str) -> pd.DataFrame:
    """Per-item vendor refusals in the rejects-file shape."""
    return pd.DataFrame(
        {
            "file": file,
            "line": None,
            "field": field,
            "value": list(failures),
            "reason": [f"refused by the vendor: {m}" for m in failures.values()],
        }
    )
