"""The services tiers' shared fixture: stations (dicomnet SCPs and SCUs) ended after each test,
which fails if a thread of theirs raised."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services.store_support import Stations


@pytest.fixture
def stations(tmp_path: Path, thread_errors: list[str]) -> Iterator[Stations]:
    started = Stations(tmp_path)
    yield started
    started.close()
    assert thread_errors == []
