"""deploy/dagster.yaml passes Dagster's own instance schema and says what the guide promises;
no database needed (the PostgreSQL tests beside this one load it for real)."""

from __future__ import annotations

from dagster._core.instance.config import dagster_instance_config

from tests.scale.conftest import DEPLOY


def test_deploy_dagster_yaml_is_a_valid_postgres_instance_with_queue_pools_and_monitoring():
    config, custom_class = dagster_instance_config(str(DEPLOY))  # raises on any schema error
    assert custom_class is None
    assert config["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert config["concurrency"]["runs"] == {
        "max_concurrent_runs": 4,
        "tag_concurrency_limits": [{"key": "dagster/backfill", "limit": 1}],
    }
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["max_resume_run_attempts"] == 0  # the default run launcher cannot resume
    assert monitoring["free_slots_after_run_end_seconds"] > 0  # a dead run frees its vendor slot
    assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
