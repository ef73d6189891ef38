"""Paqtana's API contract as we use it: endpoints, methods, body field names, size cap, error
body paths. Every fact the vendor page does not confirm is a named constant here, with its
source; the README's "Vendor contracts and our assumptions" section lists the same names.

- ``INVENTORY_FIELD_NAMES`` / ``DEMAND_FIELD_NAMES``: the JSON shapes (``{"data": [...]}``,
  camelCase inventory fields, one demand object per location x code with parallel ``dates`` /
  ``quantities`` arrays) come from a public Odoo integration, not from the vendor.
- ``DEMAND_METHOD = "POST"``: the vendor page says POST; that integration used PUT.
- ``INVENTORY_REPLACE_SCOPE = "org"``: the PUT replaces the inventory of the whole org, so one
  request carries every workspace and is never split.
- ``AUTO_CALCULATE_PARAM``: the vendor page spells the query ``auto_calculate=True``; we send that
  literal string, only on the last demand request of a day's send.
- ``DEFAULT_BODY_CAP_BYTES``: the page says "32MB" without saying whether that is 32 MiB or
  32,000,000 bytes; the default cap stays below both with 64 KiB to spare.
- ``WORKSPACE_CODES_PATH``: the workspace listing's shape (``[[name, code], ...]``) is evidence.
- ``ERROR_TYPE_FIELD`` / ``ERROR_DETAIL_PATH``: the error body's shape is evidence.
- ``RECALCULATION_ONLY_BODY``: a demand POST with an empty ``data`` list is accepted, so a day
  that sends inventory but no demand still asks for a recalculation with it.
- Missing values are sent as JSON ``null`` (not 0, not omitted); integral numbers are written as
  integers (``12``, not ``12.0``); ``additionalColumns`` is always ``[]``.
"""

from __future__ import annotations

from collections.abc import Mapping

# --- Endpoints (relative to {base}/v2/org/{org}/) and methods -------------------------------------

# Vendor page: a standard PUT that replaces everything sent before.
MASTER_INVENTORY_METHOD = "PUT"
MASTER_INVENTORY_PATH = "master_inventory"
# Vendor page says POST; the public integration used PUT. Change it here only.
DEMAND_METHOD = "POST"
HISTORICAL_DEMAND_PATH = "historical_demand"
# Evidence: lists the org's workspaces; used as a pre-flight check.
WORKSPACES_METHOD = "GET"
WORKSPACES_PATH = "workspaces"
# Evidence: where the listing keeps its [[name, code], ...] pairs.
WORKSPACE_CODES_PATH = ("operation_info", "workspaces_info", "workspace_codes")
# Evidence: the error body's fields that a data engineer needs to read.
ERROR_TYPE_FIELD = "operation_type"
ERROR_DETAIL_PATH = ("operation_info", "validation_error")
# Vendor page: the last demand request of a sync asks Paqtana to recompute order suggestions.
AUTO_CALCULATE_PARAM = ("auto_calculate", "True")
# ASSUMPTION (not on the vendor page): an empty demand POST is accepted, so the recalculation can
# follow an inventory PUT on a day with no demand to send.
RECALCULATION_ONLY_BODY = b'{"data":[]}'

# --- Sizes --------------------------------------------------------------------------------------

# Vendor page: "The maximum payload size is 32MB" (binary or decimal megabytes: not said).
# Below both readings of "32MB" (32,000,000 < 32 MiB) with 64 KiB headroom for proxies.
DEFAULT_BODY_CAP_BYTES = 32_000_000 - 64 * 1024

# --- Shapes -------------------------------------------------------------------------------------

# The PUT replaces the inventory of the org (vendor page), not of one workspace: one request
# carries all workspaces, so it must never be split (a second PUT would erase the first).
INVENTORY_REPLACE_SCOPE = "org"
# Evidence: contract column -> camelCase field, in the order the public integration sends them.
INVENTORY_FIELD_NAMES: Mapping[str, str] = {
    "location": "location",
    "code": "code",
    "description": "description",
    "material_type": "materialType",
    "multiple_order_qty": "multipleOrderQuantity",
    "currency": "currency",
    "unit_cost": "unitCost",
    "min_order_qty": "minimumOrderQuantity",
    "unit_of_measure": "unitOfMeasure",
    "lead_time_days": "supplyLeadTime",
    "on_hand": "onHandStock",
    "in_transit": "transitStock",
    "open_orders": "openDemandOrders",
}
# Evidence: a list of extra columns per row; we have none to send.
INVENTORY_ADDITIONAL_COLUMNS_FIELD = "additionalColumns"
# Vendor page + evidence: each row names its workspace because one request covers all of them.
WORKSPACE_FIELD = "workspaceCode"
# Evidence: one object per location x code, parallel arrays of daily totals sorted by date.
DEMAND_FIELD_NAMES = ("location", "code", WORKSPACE_FIELD, "dates", "quantities")


class PayloadTooLargeError(ValueError):
    """A body that cannot be sent as one request within the size cap."""


class EmptyPayloadError(ValueError):
    """Nothing left to send where sending nothing would be harmful (an empty inventory PUT would
    erase the org's inventory)."""
