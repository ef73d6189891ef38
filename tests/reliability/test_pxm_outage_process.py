"""PXM is optional for Pixee under the deployment's own command, each step in its own process
(the multiprocess executor): the Pixee payload is not downstream of the PXM read in the graph,
so it waits for the read step of its run to end, uses today's read when it succeeded, and the
last good cache when the token endpoint is down all day (503, back in an hour: the client does not
wait that long), while the run still fails at the PXM step for the alert."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from erp_sandbox import PxmCatalog, run_sandbox
from tests.conftest import ROOT, SAMPLE_EXPORTS
from tests.e2e.helpers import write_drop
from tests.reliability.harness import sandbox_config
from tests.reliability.job_process import job_environment, latest_metadata, start_daily_sync

RUN_TIMEOUT_S = 300
DAY, NEXT = "2026-11-21", "2026-11-22"
# The PXM read hangs this long once: the payload's step starts well before the read ends.
READ_HANG_S = 25


def products_drop(exports, day: str, lines: list[str]) -> None:  # noqa: ANN001
    folder = write_drop(exports, day)
    (folder / "products.csv").write_text("\n".join(lines) + "\n")


def failed_steps(home, run_id: str) -> list[str]:  # noqa: ANN001
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.STEP_FAILURE
        ).records
        return [r.event_log_entry.step_key for r in records]


def last_run_id(home) -> str:  # noqa: ANN001
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_runs(limit=1)[0].run_id


def test_the_payload_waits_for_the_pxm_read_and_goes_out_when_pxm_is_down(tmp_path):
    config = sandbox_config()
    config.pxm.catalog = PxmCatalog.from_json_file(ROOT / "sample_data/pxm_catalog.json")
    sample = (SAMPLE_EXPORTS / DAY / "products.csv").read_text().splitlines()
    exports, home = tmp_path / "exports", tmp_path / "home"
    with run_sandbox(config) as sandbox:
        env = job_environment(tmp_path, sandbox, cap_bytes=2_000_000)
        products_drop(exports, DAY, [sample[0], *sample[2:]])
        sandbox.add_fault(
            kind="slow", vendor="pxm", path="collection", delay_s=READ_HANG_S, status=503
        )
        first = start_daily_sync(tmp_path, env, "today", DAY, executor="multiprocess")
        assert first.wait(RUN_TIMEOUT_S) == 0, first.text()[-4000:]
        payload = latest_metadata(home, "pixee_products_payload")
        assert payload["pxm_read_in_this_run"] == "success"
        assert payload["pxm_read_waited_s"] > 0  # it started while the read still ran
        assert payload["enrichment"].endswith("(today's read)")
        assert payload["fields_filled_from_pxm"]["url_slug"] == 149

        # The next morning PXM's token endpoint is down all day, each answer a 503 saying to come
        # back in an hour: the read fails at once (a 503 without Retry-After is retried with
        # backoff for about half a minute first; tests/reliability/test_faults.py covers those
        # retries). The ERP added a product.
        sandbox.add_fault(
            kind="status", vendor="pxm", path="oauth/authorize", times=10_000, retry_after=3600
        )
        products_drop(exports, NEXT, sample)
        tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        env_tomorrow = env | {"SYNC_NOW": tomorrow.isoformat()}
        second = start_daily_sync(tmp_path, env_tomorrow, "tomorrow", NEXT, executor="multiprocess")
        assert second.wait(RUN_TIMEOUT_S) != 0  # the run fails: the alert names the PXM step
        assert failed_steps(home, last_run_id(home)) == ["pxm_catalog_cache"]
        payload = latest_metadata(home, "pixee_products_payload")
        assert payload["pxm_read_in_this_run"] == "failure"
        assert "1.0 days old: today's PXM read failed or did not run" in payload["enrichment"]
        sync = latest_metadata(home, "pixee_products_sync")
        assert sync["cadence"].startswith("sent: the write of")
        late = sample[1].split(",")[0]
        held = {p["ean"]: p for p in sandbox.pixee_products()}
        assert held[late]["url_slug"] == "produit-00001"  # enriched from yesterday's cache
