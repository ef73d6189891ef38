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


POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database on the machine's local server, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    from pipelines.core.state_db import postgres_driver_url

    try:
        admin = sa.create_engine(
            postgres_driver_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT"
        )
        admin.connect().close()
    except Exception as exc:  # the CI machine kind runs it; a laptop may not
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({type(exc).__name__})")
    name = f"erp_sync_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()
