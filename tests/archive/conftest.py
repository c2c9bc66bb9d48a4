"""Fixtures of the archive tests."""

from tests.archive.support import index

__all__ = ["index"]
