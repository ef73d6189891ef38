"""When the automation runs, read once when the code location loads (like pipelines.defs.settings).

The alert webhook URL is not here: it is a credential, read from the environment only at the
moment an alert is sent (see `alert_webhook_url`), so no definition, log line or repr holds it.
"""

from __future__ import annotations

import os


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


def alert_webhook_url() -> str | None:
    """Where failure alerts go (ALERT_WEBHOOK_URL); None: log only."""
    return os.environ.get("ALERT_WEBHOOK_URL") or None
