"""Alembic revisions of the archive schema."""
