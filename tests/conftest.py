"""Shared fixtures: paths to the repo's config and sample, and a scratch ERP export folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.erp.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_EXPORTS = ROOT / "sample_data" / "erp_exports"
CANONICAL_MAPPING = ROOT / "config" / "erp_mappings" / "canonical.toml"
SAP_MAPPING = ROOT / "config" / "erp_mappings" / "sap_example.toml"
LOCATIONS = ROOT / "config" / "locations.toml"


@pytest.fixture
def canonical():
    return load_mapping(CANONICAL_MAPPING)


@pytest.fixture
def sap():
    return load_mapping(SAP_MAPPING)
