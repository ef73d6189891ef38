"""ERP test helpers: the `slow` marker (slow tests still run by default)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes tens of seconds (still run by default; deselect with -m 'not slow')"
    )
