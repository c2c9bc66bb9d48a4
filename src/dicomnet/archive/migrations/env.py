"""Alembic's environment for the archive: runs on the connection ``upgrade()`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from dicomnet.archive.schema import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    """Online migrations only: on the given connection, or on ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.begin() as own:
        _run(own)
    engine.dispose()


run_migrations()
