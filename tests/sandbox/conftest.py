"""One served sandbox per test module (starting uvicorn costs ~0.2 s), reset before each test;
tests that need another config start their own with `run_sandbox`."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from erp_sandbox import ManualClock, Sandbox, SandboxConfig, run_sandbox

START = 1_781_863_200.0  # 2026-06-19T10:00:00Z
PAQTANA_TOKEN = "sandbox-paqtana-token"
PIXEE_KEY = "pm_test_sandbox"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(scope="module")
def served(clock: ManualClock) -> Iterator[Sandbox]:
    with run_sandbox(SandboxConfig(), clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox, clock: ManualClock) -> Sandbox:
    served.reset()
    clock.set(START)
    return served


@pytest.fixture
def paqtana(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {PAQTANA_TOKEN}"}
    with httpx.Client(base_url=sandbox.paqtana_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def pixee(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.pixee_url, headers={"X-API-Key": PIXEE_KEY}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def raw(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """No credentials: for auth failures, PXM and /_sandbox/."""
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client
