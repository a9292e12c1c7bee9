"""network: the coverage roll-up the worker keeps for the OEM dashboard

Revision ID: 0012coverage
Revises: 0011leads
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0012coverage"
down_revision = "0011leads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coverage_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("radius_km", sa.Numeric(7, 2), nullable=False),
        sa.Column("percent", sa.Numeric(6, 2), nullable=False),
        sa.Column("covered_km", sa.Numeric(10, 1), nullable=False),
        sa.Column("total_km", sa.Numeric(10, 1), nullable=False),
        sa.Column("computed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_coverage_rollups"),
        sa.UniqueConstraint("radius_km", name="uq_coverage_rollups_radius_km"),
    )


def downgrade() -> None:
    op.drop_table("coverage_rollups")
