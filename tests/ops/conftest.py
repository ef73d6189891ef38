"""The end-to-end fixtures (sandbox on 127.0.0.1, temporary instance, no retry sleeps), reused."""

from tests.e2e.conftest import instance, no_retry_sleeps, resources, sandbox

__all__ = ["instance", "no_retry_sleeps", "resources", "sandbox"]
