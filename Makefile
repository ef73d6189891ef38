# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install demo test ui sample

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install $(DAGSTER_HOME)/dagster.yaml  ## daily_sync of the latest sample drop against the local sandbox, then a summary
	$(BIN)/python -m erp_sandbox.demo

test: install  ## the whole test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/pytest

ui: install $(DAGSTER_HOME)/dagster.yaml  ## the Dagster UI with the sandbox running, schedules and sensors on
	$(BIN)/python -m erp_sandbox.demo --ui

sample: install  ## regenerate the sample ERP exports (deterministic)
	$(BIN)/python -m erp_sandbox.samples.erp_exports
	$(BIN)/python -m erp_sandbox.samples.pxm_catalog

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@
	# range runs write their per-day asset events in batches (pipelines/defs/event_log_storage.py)
	printf 'event_log_storage:\n  module: pipelines.defs.event_log_storage\n' >> $@
	printf '  class: BatchedSqliteEventLogStorage\n  config:\n    base_dir: $(DAGSTER_HOME)/history/runs\n' >> $@
