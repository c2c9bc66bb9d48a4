"""Fixtures of the archive tests: each runs on SQLite and on PostgreSQL (``database_url``)."""

from tests.archive.support import index, sqlite_index

__all__ = ["index", "sqlite_index"]
