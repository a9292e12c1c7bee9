"""Alembic environment: runs against the connection or URL the Milepost CLI or tests hand over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from app.db import Base, make_engine
from milepost.migrate import include_name
from milepost.model_registry import load_all_models

load_all_models()
config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER by copying the table; batch mode does that.
        compare_type=True,
        compare_server_default=False,
        include_name=include_name,
    )


def run_migrations() -> None:
    """Run against a shared connection (tests, CLI) or open one from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
