"""The daily sync report is the run's last step and is written when a load fails: it is not
downstream of the loads (Dagster would skip it), and it reads the failed step's figures."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from pipelines.defs.jobs import daily_sync
from pipelines.defs.report import REPORT_ASSET
from tests.e2e.conftest import DAY
from tests.e2e.helpers import meta


def test_a_refused_inventory_fails_the_run_and_the_report_says_what_and_where(
    resources, instance, sandbox
):
    from pipelines.definitions import defs

    sandbox.add_fault(
        kind="status",
        status=422,
        vendor="paqtana",
        method="PUT",
        path="master_inventory",
        message="data[0].unit_cost: must be a number",
    )
    job = dg.Definitions(
        assets=defs.assets, asset_checks=defs.asset_checks, jobs=[daily_sync], resources=resources
    ).resolve_job_def(daily_sync.name)
    result = job.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)

    assert not result.success
    failed = {e.step_key for e in result.all_events if e.is_step_failure}
    assert failed == {"paqtana_sync"}
    # the last step ran after every other one, the failed one among them
    ends = {
        s.step_key: s.end_time for s in instance.get_run_step_stats(result.run_id) if s.end_time
    }
    assert ends[REPORT_ASSET] == max(ends.values())
    report = meta(result, REPORT_ASSET)
    text = report["report"]
    assert Path(report["report_file"]).read_text() == text
    inventory = re.search(r"## Paqtana inventory\n(.*?)\n## ", text, re.S).group(1)
    assert "FAILED: Paqtana refused 1 of 1 request(s) (1003 row(s)" in inventory
    assert "**sent 1003 rows (1003 refused by the vendor): 1 write request(s)" in inventory
    assert re.search(
        r"- refused by the vendor: 1003 \(in `[^`]+/paqtana_master_inventory/2026-11-21.csv`\): "
        r"refused by Paqtana: .*data\[0\]\.unit_cost: must be a number \(1003\)\n",
        inventory,
    )
    # the two rows the ERP extract refused, with their own reasons, apart from Paqtana's
    assert re.search(
        r"- kept out before sending: 2 \(in `[^`]+/erp_items/2026-11-21.csv`\): "
        r"negative value not allowed \(1\); not a number \(1\)\n",
        inventory,
    )
    assert "Fix the 1003 rows the vendor refused" in inventory
    # the demand send went on, and the report says so
    demand = re.search(r"## Paqtana demand\n(.*?)\n## ", text, re.S).group(1)
    assert "**sent 4197 values: 1 write request(s), 1 read request(s)**" in demand
    assert "| Paqtana inventory | failed | 1003 | 0 | 2 | 1003 |" in text
