"""traceability: index-backed public paths

The parts' unique key leads with the serial, so the unknown-serial check of a counterfeit scan (does this
serial exist under any GTIN?) is an index lookup instead of a read of the whole parts table; the alert
list's filters (status, cause) each get an index ordered by recency; sale-price ranges are kept per part
type (refreshed by a job) instead of read from thousands of sales on every scan page.

Revision ID: 0007trace
Revises: 0006assign
Create Date: 2026-12-02 12:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0007trace'
down_revision = '0006assign'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sale_price_ranges',
        sa.Column('part_type_id', sa.Integer(), nullable=False),
        sa.Column('p10', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('p90', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('sales', sa.Integer(), nullable=False),
        sa.Column('refreshed_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['part_type_id'], ['part_types.id'], name=op.f('fk_sale_price_ranges_part_type_id_part_types')
        ),
        sa.PrimaryKeyConstraint('part_type_id', name=op.f('pk_sale_price_ranges')),
    )
    with op.batch_alter_table('parts', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_parts_serial_gtin', ['serial', 'gtin'])
        batch_op.drop_constraint('uq_parts_gtin_serial', type_='unique')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_status_last_seen_at', ['status', 'last_seen_at'], unique=False)
        batch_op.create_index('ix_alerts_cause_last_seen_at', ['cause', 'last_seen_at'], unique=False)
        batch_op.drop_index(batch_op.f('ix_alerts_status'))
        batch_op.drop_index(batch_op.f('ix_alerts_cause'))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_cause'), ['cause'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_status'), ['status'], unique=False)
        batch_op.drop_index('ix_alerts_cause_last_seen_at')
        batch_op.drop_index('ix_alerts_status_last_seen_at')
    with op.batch_alter_table('parts', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_parts_gtin_serial', ['gtin', 'serial'])
        batch_op.drop_constraint('uq_parts_serial_gtin', type_='unique')
    op.drop_table('sale_price_ranges')
