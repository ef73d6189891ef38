"""The code location: one Definitions object that only wires."""

import dagster as dg

from pipelines.defs.erp import assets as erp_assets
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.jobs import daily_sync

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([erp_assets]),
    jobs=[daily_sync],
    resources={"erp": ErpExportsResource()},
)
