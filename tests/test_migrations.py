"""The migrations build exactly the schema the models describe, and they run down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import Base
from milepost import migrate


def test_migrations_match_models(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": migrate.include_name})

    differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_migrations_downgrade_to_base_and_upgrade_again(connection):
    migrate.downgrade(connection=connection, target="base")
    tables_after_downgrade = set(connection.dialect.get_table_names(connection)) - {"alembic_version"}

    migrate.upgrade(connection=connection)

    assert tables_after_downgrade == set()
    assert set(Base.metadata.tables) <= set(connection.dialect.get_table_names(connection))
