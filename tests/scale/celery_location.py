"""The project's code location with daily_sync_celery, for the Celery test: the test's CLI run
and its workers load the job from here (`tests.scale.celery_location:defs`), whether or not
pipelines/definitions.py registers the job itself."""

import dagster as dg

import pipelines.definitions as project  # a module, not its Definitions: one per module scope
from pipelines.defs.jobs import daily_sync_celery

_registered = {getattr(job, "name", None) for job in project.defs.jobs or []}

defs = (
    project.defs
    if daily_sync_celery is None or daily_sync_celery.name in _registered
    else dg.Definitions.merge(project.defs, dg.Definitions(jobs=[daily_sync_celery]))
)
