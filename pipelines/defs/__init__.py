"""The thin Dagster layer: assets, checks, resources, schedules and sensors that wire the core."""
