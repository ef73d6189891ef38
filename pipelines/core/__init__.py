"""Pure core: ERP parsing, payload building, HTTP clients, cadence rules. No Dagster import here."""
