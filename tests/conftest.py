"""Test configuration: hypothesis profiles (``HYPOTHESIS_PROFILE=ci`` is fixed and derandomised)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.postgres import archive_database, database_url, postgres_url

__all__ = ["archive_database", "database_url", "postgres_url"]

settings.register_profile(
    "ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def thread_errors() -> Iterator[list[str]]:
    """Exceptions escaping any thread during the test (``threading.excepthook`` is restored)."""
    errors: list[str] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "?"
        errors.append(f"{name}: {args.exc_type.__name__}: {args.exc_value!r}")

    threading.excepthook = hook
    try:
        yield errors
    finally:
        threading.excepthook = previous
