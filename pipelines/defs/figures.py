"""Figures as a person reads them in the UI: sizes in MB, counts per status as a small table
(shares in %: `pipelines.core.shares`). Keys stay as they are; only what is shown changes."""

import dagster as dg


def megabytes(n: int) -> str:
    """Bytes as a person reads them, exact count kept: `1.86 MB (1,862,310 bytes)`."""
    return f"{n / 1e6:.2f} MB ({n:,} bytes)" if n >= 10_000 else f"{n:,} bytes"


def status_table(counts: dict[str, int]) -> dg.MetadataValue:
    """Requests per answer status (`no answer`: a timeout or a reset), as a small table."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord({"status": k, "requests": v}) for k, v in sorted(counts.items())],
        schema=dg.TableSchema(
            columns=[dg.TableColumn("status", "string"), dg.TableColumn("requests", "int")]
        ),
    )
