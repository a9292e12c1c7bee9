"""traceability: an index for the scans behind an unknown-code alert (codes no part has)

Revision ID: 0012unknown
Revises: 0009trace
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012unknown"
down_revision = "0009trace"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_scans_unknown_code",
        "scans",
        ["gtin", "serial", "scanned_at"],
        postgresql_where=sa.text("part_id IS NULL"),
        sqlite_where=sa.text("part_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_scans_unknown_code", table_name="scans")
