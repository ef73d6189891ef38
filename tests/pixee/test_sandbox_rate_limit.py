"""The Pixee catalog send against the sandbox's own rate limiter, on one simulated clock (the
sandbox's limiter reads it, the client's pacer sleeps by moving it): 45 batches at 20 a minute
go out in the fewest windows the limit allows, none answered 429. bench/pixee_load.py runs the
100,000-product version (200 batches, ten simulated minutes)."""

from __future__ import annotations

import math

from erp_sandbox import ManualClock, SandboxConfig, run_sandbox
from pipelines.core.pixee.changes import plan_upserts
from pipelines.core.pixee.client import DEFAULT_RATE_LIMITS, Bucket, PixeeClient, RatePacer
from pipelines.core.pixee.payloads import batches
from pipelines.core.pixee.sync import BatchSender, catalog_send

BATCHES = 45
WINDOW_S = 60.0


def product(i: int) -> dict:
    ean = f"376{i:09d}"
    check = (10 - sum(int(d) * (3 if k % 2 else 1) for k, d in enumerate(ean)) % 10) % 10
    return {"ean": ean + str(check), "name": f"Product {i}", "status": "active"}


def test_batches_go_out_in_the_fewest_windows_the_bulk_limit_allows_without_a_429():
    products = [product(i) for i in range(BATCHES * 500)]
    units = catalog_send(plan_upserts(products, {})).plan.units
    assert len(units) == len(batches(products)) == BATCHES
    per_window = DEFAULT_RATE_LIMITS[Bucket.BULK].requests
    config, clock = SandboxConfig(), ManualClock()
    with run_sandbox(config, clock=clock) as sandbox:
        pacer = RatePacer(clock=clock, sleep=clock.advance)
        with PixeeClient(sandbox.pixee_url, "pm_test_sandbox", pacer=pacer) as client:
            sender, start = BatchSender(client), clock()
            refused = [sender.send(u, finishing=False).refused for u in units]
            last_start = clock() - start
        sent = [r for r in sandbox.requests("pixee") if r["path"].endswith("/products/batch")]
        held = len(sandbox.pixee_products())
        statuses = {r["status"] for r in sandbox.requests("pixee")}

    assert statuses == {200}
    assert all(not r for r in refused) and held == len(products)
    times = [r["unix_time"] for r in sent]
    assert max(sum(s <= t < s + WINDOW_S for t in times) for s in times) == per_window
    windows = math.ceil(BATCHES / per_window)
    # the limit is held until the last batch's window ends: the fewest windows, within 5%
    assert (windows - 1) * WINDOW_S <= last_start
    assert abs((last_start + WINDOW_S) / (windows * WINDOW_S) - 1) <= 0.05
