"""The archive's alembic migrations, run from code: no alembic.ini on disk.

``upgrade(engine_or_url)`` brings a database to the newest revision (creating the schema in an
empty one); running it again does nothing. On PostgreSQL it holds an advisory lock for its
transaction, so several processes starting at once on one database migrate it once. Maintainers
add a revision with ``alembic -x ... revision`` against a config whose ``script_location`` is
``dicomnet.archive:migrations``.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

__all__ = ["SCRIPT_LOCATION", "config", "current_revision", "head_revision", "upgrade"]

SCRIPT_LOCATION = "dicomnet.archive:migrations"
#: The PostgreSQL advisory lock migrations hold (transaction-scoped): "dicomnet" as an integer.
_LOCK_KEY = int.from_bytes(b"dicomnet", "big") & 0x7FFF_FFFF_FFFF_FFFF


def config() -> Config:
    """An alembic Config for the archive's scripts, with no file behind it."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return cfg


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (idempotent)."""
    engine = create_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # processes starting together on an
                # empty database: one creates the schema, the others wait, then find it at head
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            cfg = config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision the package ships."""
    return ScriptDirectory.from_config(config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision a database is at (None for an empty one)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
