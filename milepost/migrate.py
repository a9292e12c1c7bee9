"""Running the Alembic migrations programmatically (CLI and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from traceability.partitions import PARTITION_NAME

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
FILE_TEMPLATE = "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the Milepost migrations, on `url` or an open `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", FILE_TEMPLATE)
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Leave the monthly partitions out of Alembic's comparisons: the models describe their parent tables."""
    return not (type_ == "table" and name is not None and PARTITION_NAME.match(name))


def upgrade(url: str | None = None, connection: Connection | None = None, target: str = "heads") -> None:
    """Bring the schema up to `target` (all heads by default)."""
    command.upgrade(alembic_config(url, connection), target)


def downgrade(url: str | None = None, connection: Connection | None = None, target: str = "base") -> None:
    """Take the schema down to `target`."""
    command.downgrade(alembic_config(url, connection), target)
