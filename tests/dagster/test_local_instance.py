"""The local instance `make demo` and `make ui` write: every pool a load names has one slot, so
the UI shows the pools working (not "no slots configured") and two runs never call one vendor at
once."""

from __future__ import annotations

import os
import subprocess

import dagster as dg

from pipelines.definitions import defs
from tests.conftest import ROOT


def pools_in_code() -> set[str]:
    graph = defs.resolve_asset_graph()
    return {pool for key in graph.executable_asset_keys for pool in graph.get(key).pools}


def test_the_written_instance_gives_each_vendor_pool_one_slot(tmp_path):
    home = tmp_path / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    subprocess.run(
        ["make", "-s", "-C", str(ROOT), f"{home}/dagster.yaml", f"DAGSTER_HOME={home}"],
        check=True,
        env=env,
        timeout=120,
    )
    pools = pools_in_code()
    assert pools == {"paqtana", "pixee", "pxm"}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        for pool in pools:
            info = instance.event_log_storage.get_concurrency_info(pool)
            assert (info.slot_count, info.using_default_limit) == (1, False), pool
        assert set(instance.event_log_storage.get_concurrency_keys()) == pools
