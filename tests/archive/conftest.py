"""Fixtures of the archive tests: each runs on SQLite and on PostgreSQL."""

from tests.archive.support import index, sqlite_index
from tests.postgres import database_url, postgres_url

__all__ = ["database_url", "index", "postgres_url", "sqlite_index"]
