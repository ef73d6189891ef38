"""The run config's cross-field rules, checked by every job's executor before any step (the
README walk-through runs the refusal from the CLI: tests/readme)."""

from pipelines.definitions import defs
from pipelines.defs.launch_check import config_problems


def test_each_broken_rule_is_one_line_and_a_good_config_none():
    assert config_problems({"cadence": {"older_snapshot": True, "reason": "r"}}) == [
        "older_snapshot: true must name its endpoints in `endpoints`"
    ]
    [unknown] = config_problems({"cadence": {"force": True, "reason": "r", "endpoints": ["x"]}})
    assert unknown.startswith("unknown endpoint 'x'; known: ")
    assert config_problems({"cadence": {"force": True, "reason": "ERP re-export"}}) == []
    assert config_problems({"cadence": None}) == [] and config_problems({}) == []


def test_every_job_runs_on_a_checking_executor():
    for job in defs.resolve_all_job_defs():
        create = job.executor_def.executor_creation_fn  # the wrapper's, not the inner one's
        assert create is not None and create.__qualname__ == "checked.<locals>._create", job.name
