"""merge traceability scan state and organization standing

Revision ID: 0005merge
Revises: 0003trace, 0004orgstanding
Create Date: 2026-11-22 23:29:24.180886
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db


revision = '0005merge'
down_revision = ('0003trace', '0004orgstanding')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
