"""A real PostgreSQL server for the archive tests.

``DICOMNET_TEST_POSTGRES`` is the SQLAlchemy URL of a server's maintenance database (``.ci/postgres``
starts one and prints it; ``.ci/run`` exports it). Each test gets a database of its own, created
for it and dropped after it. Without the variable the PostgreSQL cases are skipped, unless
``DICOMNET_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: The backends every archive test runs on.
BACKENDS = ("sqlite", "postgresql")


def server_url() -> str | None:
    """The test server's URL, None when there is none (and none is required)."""
    url = os.environ.get("DICOMNET_TEST_POSTGRES")
    if not url and os.environ.get("DICOMNET_REQUIRE_POSTGRES") == "1":
        pytest.fail("DICOMNET_REQUIRE_POSTGRES=1 but DICOMNET_TEST_POSTGRES is not set")
    return url or None


def admin(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE...)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def new_database() -> Generator[str, None, None]:
    """A new empty database on the test server (dropped afterwards); skips without a server."""
    url = server_url()
    if url is None:
        pytest.skip("no PostgreSQL server (set DICOMNET_TEST_POSTGRES, see .ci/postgres)")
    name = f"dicomnet_{uuid.uuid4().hex[:16]}"
    admin(url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database's URL: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'index.sqlite'}"
    else:
        yield from new_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database's URL."""
    yield from new_database()


@pytest.fixture(params=BACKENDS)
def archive_database(request: pytest.FixtureRequest) -> str | None:
    """For qrscp's ``--db``: None (its default SQLite index), then a PostgreSQL database's URL."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))


def db_options(url: str | None) -> tuple[str, ...]:
    """qrscp's options for an ``archive_database``."""
    return () if url is None else ("--db", url)
