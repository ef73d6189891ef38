"""The run's config checked once, in the run worker, before the executor starts any step.

Dagster validates run config against each resource's schema at launch, but rules across fields
(`force: true` needs a `reason`) are not in a schema, and a resource is initialised in each
step's process: a validator there fired after the extracts ran and the PXM read went out, once
per step. Every job's executor is wrapped here so those rules are checked first: a run whose
config breaks one fails with one line naming the rule, before any step or request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from pipelines.defs.cadence.resources import CadenceGuardResource

# Resource key -> its class, whose `problems()` the run config must pass before any step.
CHECKED_RESOURCES: Mapping[str, type[CadenceGuardResource]] = {
    "cadence": CadenceGuardResource,
}


class RunConfigRefused(Exception):
    """The run config breaks a resource's rule; nothing ran and nothing was sent."""


def config_problems(resource_configs: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One line per broken rule, e.g. `force: true needs a reason (resources.cadence.config.
    reason) ...`; empty when the config is good. `resource_configs` are the run config's (a field it
    leaves out takes the resource's default)."""
    problems = []
    for key, cls in CHECKED_RESOURCES.items():
        if key not in resource_configs:
            continue
        resource = cls(**(resource_configs[key] or {}))
        problems += resource.problems()
    return problems


class _CheckedExecutor(dg.Executor):
    """The job's own executor, after the run config has passed `config_problems`."""

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    def __getattr__(self, name: str):  # noqa: ANN204
        """The rest is the inner executor's: an execution loop reads its executor's own
        attributes through the run's context (dagster-celery's `app_args()`)."""
        if name == "_inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self._inner, name)

    @property
    def retries(self):  # noqa: ANN201 - RetryMode
        return self._inner.retries

    @property
    def step_dependency_config(self):  # noqa: ANN201 - StepDependencyConfig
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator:  # noqa: ANN001
        resources = plan_context.run_config.get("resources") or {}
        problems = config_problems(
            {key: (value or {}).get("config") for key, value in resources.items()}
        )
        if problems:
            refused = "run refused before any step (nothing ran, nothing was sent): " + "; ".join(
                problems
            )
            plan_context.log.error(refused)
            raise RunConfigRefused(refused)
        yield from self._inner.execute(plan_context, execution_plan)


def checked(inner: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """`inner` (same name, config and requirements) checking the run config before any step."""
    create = inner.executor_creation_fn
    assert create is not None, f"executor {inner.name} has no creation function"

    def _create(init_context: dg.InitExecutorContext) -> dg.Executor:
        return _CheckedExecutor(create(init_context))

    return dg.ExecutorDefinition(
        name=inner.name,
        config_schema=inner.config_schema,
        requirements=inner.get_requirements,
        executor_creation_fn=_create,
        description=inner.description,
    )
