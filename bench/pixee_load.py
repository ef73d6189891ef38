"""Benchmark: 100,000 new products sent to the Pixee sandbox under its rate limits (bulk: 20
batches a minute), on the sandbox's injectable clock: the sandbox's limiter and the client's
pacer read the same ManualClock, and the pacer's sleep moves it, so ten simulated minutes take
seconds. Not a test (tests/pixee/test_sandbox_rate_limit.py is the small version).

    .venv/bin/python bench/pixee_load.py [--products 100000]

The products go the way the asset sends them: `build_products` and `plan_upserts` over an ERP
products frame, `catalog_send` (batches of 500), then each batch through `BatchSender` (the key's
scopes checked first) with a real HTTP client on 127.0.0.1. It prints the simulated load time
against the limit's minimum, the answers by status (a 429 is a failure) and the real seconds.
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEED = 20261121
WINDOW_S = 60.0
TOLERANCE = 0.05


def products_frame(products: int):  # noqa: ANN201 - pd.DataFrame
    import pandas as pd
    from stdnum import ean as stdnum_ean

    from pipelines.core.erp.contract import PRODUCTS as CONTRACT
    from pipelines.core.erp.contract import ColumnType

    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(
        {
            c.name: pd.array(rng.random(products) * 100, dtype="float64")
            if c.type is ColumnType.NUMBER
            else pd.array([f"{c.name} {i}" for i in range(products)], dtype="str")
            for c in CONTRACT.columns
        }
    )
    bodies = [f"376{i:09d}" for i in range(products)]
    frame["ean"] = pd.array([b + stdnum_ean.calc_check_digit(b) for b in bodies], dtype="str")
    # what Pixee validates, as an ERP export holds it (else every product is refused)
    frame["status"] = "active"
    frame["category_id"] = "5f0c6c8e-2f7b-4c43-9a54-3b8d2f0e6a11"
    for column in ("upc", "gtin", "asin"):
        frame[column] = None
    return frame


def measure(products: int) -> dict:
    from erp_sandbox import ManualClock, SandboxConfig, run_sandbox
    from pipelines.core.pixee.changes import plan_upserts
    from pipelines.core.pixee.client import DEFAULT_RATE_LIMITS, Bucket, PixeeClient, RatePacer
    from pipelines.core.pixee.payloads import build_products
    from pipelines.core.pixee.sync import BatchSender, catalog_send

    plan = catalog_send(plan_upserts(build_products(products_frame(products)), {})).plan
    config = SandboxConfig()
    clock = ManualClock()
    started_real = time.perf_counter()
    with run_sandbox(config, clock=clock) as sandbox:
        pacer = RatePacer(clock=clock, sleep=clock.advance)
        key = next(iter(config.pixee.api_keys))
        with PixeeClient(sandbox.pixee_url, key, pacer=pacer) as client:
            sender = BatchSender(client)
            start, refused = clock(), 0
            for i, unit in enumerate(plan.units):
                refused += len(sender.send(unit, finishing=i == len(plan.units) - 1).refused)
            end = clock()
        answers = collections.Counter(
            r["status"] for r in sandbox.requests("pixee") if r["path"].endswith("/batch")
        )
        statuses = collections.Counter(r["status"] for r in sandbox.requests("pixee"))
        held = len(sandbox.pixee_products())
    per_window = DEFAULT_RATE_LIMITS[Bucket.BULK].requests
    batches = len(plan.units)
    return {
        "products": products,
        "batches": batches,
        "per_window": per_window,
        "simulated_s": end - start,
        # the last batch may start once (batches - 1) // per_window windows have passed
        "min_last_start_s": (batches - 1) // per_window * WINDOW_S,
        # windows the batches need: the load holds the limit until its last window ends
        "rate_minimum_s": math.ceil(batches / per_window) * WINDOW_S,
        "answers": dict(answers),
        "statuses": dict(statuses),
        "held": held,
        "refused": refused,
        "real_s": time.perf_counter() - started_real,
        "pacer_waited_s": pacer.waited_s,
        "margin_s": pacer.margin_s,
    }


def report(r: dict) -> None:
    minimum = r["rate_minimum_s"]
    # The load holds the bulk limit until its last batch's window ends.
    occupied = r["simulated_s"] + WINDOW_S
    off = occupied / minimum - 1
    verdict = "ok" if abs(off) <= TOLERANCE and 429 not in r["statuses"] else "NOT MET"
    print(
        f"\nPixee: {r['products']:,} products in {r['batches']} batches at {r['per_window']} "
        f"a minute, sandbox on a simulated clock:"
    )
    print(
        f"  last batch sent at {r['simulated_s']:.0f} s simulated (the earliest the window allows: "
        f"{r['min_last_start_s']:.0f} s; the pacer keeps {r['margin_s']:g} s per window spare)"
    )
    print(
        f"  the load holds the limit {occupied:.0f} s = {occupied / 60:.2f} min against the "
        f"minimum {minimum:.0f} s = {minimum / 60:.0f} min ({off:+.1%}; target within "
        f"{TOLERANCE:.0%}): {verdict}"
    )
    print(
        f"  answers to the batches: {r['answers']}; all Pixee answers: {r['statuses']}; "
        f"the sandbox holds {r['held']:,} products ({r['refused']} refused); "
        f"{r['real_s']:.1f} s real"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    report(measure(parser.parse_args().products))


if __name__ == "__main__":
    main()
