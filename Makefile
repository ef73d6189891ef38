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
	$(BIN)/ruff format --check .
	$(BIN)/pytest

ui: install $(DAGSTER_HOME)/dagster.yaml  ## the Dagster UI with the sandbox running, schedules and sensors on
	$(BIN)/python -m erp_sandbox.demo --ui

sample: install  ## regenerate the sample ERP exports (deterministic)
	$(BIN)/python -m erp_sandbox.samples.erp_exports
	$(BIN)/python -m erp_sandbox.samples.sap_exports
	$(BIN)/python -m erp_sandbox.samples.pxm_catalog

# The local instance: no telemetry, and ONE slot for each vendor's pool (the `pool=` of the loads),
# so two runs never call one vendor at once; a pool added later gets one slot too (default_limit).
# Range runs write their per-day asset events in batches (pipelines/defs/event_log_storage.py).
# Rewritten when this file changes, so an older checkout's instance gets the pools.
$(DAGSTER_HOME)/dagster.yaml: Makefile | $(VENV)/.installed
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' > $@
	printf 'event_log_storage:\n  module: pipelines.defs.event_log_storage\n' >> $@
	printf '  class: BatchedSqliteEventLogStorage\n  config:\n    base_dir: $(DAGSTER_HOME)/history/runs\n' >> $@
	for pool in paqtana pixee pxm; do $(BIN)/dagster instance concurrency set $$pool 1 >/dev/null; done
