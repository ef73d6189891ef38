"""The reliability harness: a sandbox that knows only the fake secrets, a small ERP drop, and the
real daily_sync job run in this process with resources pointing at the sandbox."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from erp_sandbox import PaqtanaConfig, PixeeConfig, PxmConfig, SandboxConfig
from erp_sandbox.config import PIXEE_READ_SCOPE, PIXEE_WRITE_SCOPE
from pipelines.defs.erp.resources import ErpExportsResource
from pipelines.defs.jobs import daily_sync
from pipelines.defs.paqtana.resources import PaqtanaResource
from pipelines.defs.pixee.resources import PixeeResource
from pipelines.defs.pxm.resources import PxmResource
from pipelines.defs.sync_mode import SyncModeResource
from tests.conftest import CANONICAL_MAPPING, LOCATIONS
from tests.e2e.conftest import base_resources
from tests.e2e.helpers import ean, materializations_of, write_drop
from tests.reliability.leaks import SECRETS, Secrets

DAY = "2026-11-21"
ORG = "demo-org"


def sandbox_config(secrets: Secrets = SECRETS) -> SandboxConfig:
    """A sandbox that accepts only `secrets`."""
    return SandboxConfig(
        paqtana=PaqtanaConfig(token=secrets.paqtana_token, org=ORG),
        pixee=PixeeConfig(
            api_keys={secrets.pixee_key: [PIXEE_READ_SCOPE, PIXEE_WRITE_SCOPE]},
            api_key_names={secrets.pixee_key: "Reliability key"},
        ),
        pxm=PxmConfig(client_id=secrets.pxm_client_id, client_secret=secrets.pxm_secret),
    )


@dataclass(frozen=True)
class Drop:
    """A small ERP drop: `items` item rows, `demand_codes` demand rows (one day, two locations
    in two workspaces) and `products` products with valid EANs."""

    products: int = 7
    items: int = 3
    demand_codes: int = 120

    def write(self, exports: Path, day: str = DAY) -> Path:
        locations = ("WH-PARIS", "WH-LYON")
        items = "location,code,on_hand\n" + "".join(
            f"{locations[i % 2]},I{i:04d},{i % 9}\n" for i in range(self.items)
        )
        demand = "date,location,code,quantity\n" + "".join(
            f"{day},{locations[i % 2]},D{i:04d},{i % 13 + 1}\n" for i in range(self.demand_codes)
        )
        products = [
            {"ean": ean(i), "name": f"Product {i}", "brand_name": "Brand"}
            for i in range(1, self.products + 1)
        ]
        return write_drop(exports, day, products, items=items, demand=demand)


def resources(
    sandbox: Any,
    root: Path,
    *,
    secrets: Secrets = SECRETS,
    cap_bytes: int = 2_000,
    timeout_s: float | None = None,
    mode: str = "live",
) -> dict[str, Any]:
    """The daily sync's resources for a drop under `root/exports`, talking to `sandbox` with
    `secrets`; state under `root/data`, the dry-run outbox under `root/outbox`."""
    return base_resources(root) | {
        "erp": ErpExportsResource(
            export_dir=str(root / "exports"),
            mapping_file=str(CANONICAL_MAPPING),
            locations_file=str(LOCATIONS),
        ),
        "sync_mode": SyncModeResource(mode=mode, outbox_dir=str(root / "outbox")),
        "paqtana": PaqtanaResource(
            base_url=sandbox.paqtana_url,
            token=secrets.paqtana_token,
            org=ORG,
            max_body_bytes=cap_bytes,
            timeout_s=timeout_s,
        ),
        "pixee": PixeeResource(
            base_url=sandbox.pixee_url, api_key=secrets.pixee_key, timeout_s=timeout_s
        ),
        "pxm": PxmResource(
            base_url=sandbox.pxm_url,
            client_id=secrets.pxm_client_id,
            client_secret=secrets.pxm_secret,
            timeout_s=timeout_s,
        ),
    }


def run_daily_sync(
    resources: dict[str, Any],
    instance: dg.DagsterInstance,
    day: str = DAY,
    assets: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """The real `daily_sync` job (every asset and asset check of the code location) for one
    day, in this process, with `resources` in place of the deployment's; `assets` narrows it to
    those assets (and their checks)."""
    from pipelines.definitions import defs

    job = dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=[daily_sync],
        resources=resources,
    ).resolve_job_def(daily_sync.name)
    return job.execute_in_process(
        partition_key=day,
        instance=instance,
        raise_on_error=False,
        asset_selection=[dg.AssetKey(a) for a in assets] if assets else None,
    )


def failure_messages(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step -> the error a person reads (the user's exception, not Dagster's wrapper)."""
    messages = {}
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            messages[event.step_key] = (error.cause or error).message.strip()
    return messages


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The metadata values of the asset's materialization in this run ({} when none)."""
    mats = materializations_of(result, asset)
    values = {k: v.value for k, v in mats[-1].metadata.items()} if mats else {}
    if isinstance(values.get("status_codes"), dg.TableMetadataValue):  # status -> requests
        table = values["status_codes"]
        values["status_codes"] = {r.data["status"]: r.data["requests"] for r in table.records}
    return values
