"""Deployment settings read once, when the code location loads.

Only this module reads the environment for non-secret settings; secrets are `dg.EnvVar`s on the
resources so the UI never shows them. Relative defaults resolve against the project folder.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path(var: str, default: str) -> str:
    value = os.environ.get(var) or default
    path = Path(value)
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _location(var: str, default: str) -> str:
    """A URL (sftp://, s3://, file://) as given; a plain path resolved like `_path`."""
    value = os.environ.get(var) or default
    return value if "://" in value else _path(var, default)


# A local folder or a URL; its credentials are dg.EnvVars on the resource (definitions.py).
ERP_EXPORT_DIR = _location("ERP_EXPORT_DIR", "sample_data/erp_exports")
ERP_EXPORT_SFTP_KNOWN_HOSTS = os.environ.get("ERP_EXPORT_SFTP_KNOWN_HOSTS") or None
ERP_EXPORT_S3_ENDPOINT_URL = os.environ.get("ERP_EXPORT_S3_ENDPOINT_URL") or None
ERP_MAPPING_FILE = _path("ERP_MAPPING_FILE", "config/erp_mappings/canonical.toml")
LOCATIONS_FILE = _path("LOCATIONS_FILE", "config/locations.toml")
DATA_DIR = _path("ERP_SYNC_DATA_DIR", ".erp_sync")
TIMEZONE = os.environ.get("SYNC_TIMEZONE", "UTC")
# First business day a partition exists for; history before it cannot be backfilled.
PARTITIONS_START = dt.date.fromisoformat(os.environ.get("SYNC_PARTITIONS_START", "2025-01-01"))
MAX_REJECT_SHARE = float(os.environ.get("MAX_REJECT_SHARE", "0.05"))
OWNERS = [
    o.strip()
    for o in os.environ.get("ASSET_OWNERS", "team:data-engineering").split(",")
    if o.strip()
]

# live: call the vendors; dry-run: write every request to the outbox instead (no credentials).
SYNC_MODE = os.environ.get("SYNC_MODE", "live").strip().lower()
OUTBOX_DIR = _path("SYNC_OUTBOX_DIR", ".erp_sync/outbox")
PAQTANA_BASE_URL = os.environ.get("PAQTANA_BASE_URL", "https://api.paqtana.com")
PIXEE_BASE_URL = os.environ.get("PIXEE_BASE_URL", "https://api.pixeepim.com/api/v1/ext")
PXM_BASE_URL = os.environ.get("PXM_BASE_URL", "https://entapi.amplifi.io")
PXM_MAPPING_FILE = _path("PXM_MAPPING_FILE", "config/pxm_enrichment.toml")
# Largest Paqtana request body in bytes; unset: the client's default (32 MB less headroom).
PAQTANA_MAX_BODY_BYTES = int(os.environ.get("PAQTANA_MAX_BODY_BYTES") or 0) or None
PIXEE_FULL_RESYNC = os.environ.get("PIXEE_FULL_RESYNC", "").lower() in ("1", "true", "yes")


def env_var_if_set(name: str):  # noqa: ANN201 - returns dg.EnvVar | None
    """A secret as `dg.EnvVar` (so the UI never shows it) when set; None when not, so a vendor
    that is not configured skips cleanly instead of failing resource set-up."""
    import dagster as dg

    return dg.EnvVar(name) if os.environ.get(name) else None
