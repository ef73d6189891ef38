"""Deployment settings read once, when the code location loads.

Only this module reads the environment. Secrets are read by `secret` at the moment a run or a
tick uses them, never held by the definitions, so the UI never shows them and the job's snapshot
is the same whether or not a credential is set. Relative defaults resolve against the project
folder.
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


# A local folder or a URL; its credentials are read at run time (`secret`).
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
# Days the ERP drops an export for (weekdays, and an optional file of holidays).
BUSINESS_DAYS = os.environ.get("SYNC_BUSINESS_DAYS") or "Mon-Fri"
HOLIDAYS_FILE = os.environ.get("SYNC_HOLIDAYS_FILE") or None
# The daily demand send carries every day of this trailing window not yet accepted by Paqtana.
DEMAND_CATCHUP_DAYS = int(os.environ.get("DEMAND_CATCHUP_DAYS") or 14)
# A full-snapshot send that would remove more than this share of what the vendor holds stops.
MAX_REMOVED_SHARE = float(os.environ.get("MAX_REMOVED_SHARE", "0.05"))
# The status a product gets in Pixee once the ERP no longer exports it: inactive, archived, or
# keep (send nothing). Checked when a sync uses it (pipelines/core/pixee/removals.py).
PIXEE_REMOVED_STATUS = os.environ.get("PIXEE_REMOVED_STATUS") or "inactive"
# The Pixee payload enriches from a PXM cache at most this old (days) when today's read failed.
PXM_CACHE_MAX_AGE_DAYS = float(os.environ.get("PXM_CACHE_MAX_AGE_DAYS") or 7)
# A fixed "now" for drills (ISO-8601): the ledger and the automation decide as on that moment.
SYNC_NOW = os.environ.get("SYNC_NOW") or None
# An attempt stays live this long without a heartbeat (renewed every quarter of it).
LEASE_SECONDS = float(os.environ.get("SYNC_LEASE_SECONDS") or 60)


# --- Automation --------------------------------------------------------------------------------
# The alert webhook URL is not here: it is a credential, read from the environment only at the
# moment an alert is sent (see `alert_webhook_url`), so no definition, log line or repr holds it.


def _int_between(var: str, default: int, low: int, high: int) -> int:
    value = int(os.environ.get(var) or default)
    if not low <= value <= high:
        raise ValueError(f"{var}={value} is out of range: expected {low}..{high}")
    return value


# The daily schedule runs the previous business day's partition at this local time.
SCHEDULE_HOUR = _int_between("SYNC_SCHEDULE_HOUR", 5, 0, 23)
SCHEDULE_MINUTE = _int_between("SYNC_SCHEDULE_MINUTE", 0, 0, 59)
# Every load asset must have been updated within the day before this local hour.
DEADLINE_HOUR = _int_between("SYNC_DEADLINE_HOUR", 7, 0, 23)
# A `_SUCCESS` marker younger than this may belong to a drop still being finished: wait a tick.
DROP_SETTLE_SECONDS = _int_between("ERP_DROP_SETTLE_SECONDS", 30, 0, 86_400)
# The arrival sensor looks at drops of the last N days only; older drops are history, synced by
# a deliberate backfill, not by a burst of runs when the sensor is first switched on.
DROP_LOOKBACK_DAYS = _int_between("ERP_DROP_LOOKBACK_DAYS", 7, 1, 400)
# Where the Dagster UI is, for the link in an alert (e.g. http://127.0.0.1:3000).
DAGSTER_WEBSERVER_URL = os.environ.get("DAGSTER_WEBSERVER_URL") or None


def business_calendar():  # noqa: ANN201 - BusinessCalendar
    from pipelines.core.business_calendar import BusinessCalendar

    holidays = HOLIDAYS_FILE and _path("SYNC_HOLIDAYS_FILE", HOLIDAYS_FILE)
    return BusinessCalendar.parse(BUSINESS_DAYS, holidays)


def alert_webhook_url() -> str | None:
    """Where failure alerts go (ALERT_WEBHOOK_URL); None: log only."""
    return os.environ.get("ALERT_WEBHOOK_URL") or None


def secret(name: str) -> str | None:
    """A credential from the environment, read when a run or a tick needs it (None: unset, so a
    vendor that is not configured skips cleanly or says what to set)."""
    return os.environ.get(name) or None
