"""traceability: a keyed custody chain per organization

Events are numbered per acting organization (its own chain and head row, so warehouses do not queue on
one head) and sealed with an HMAC under the key ring (key id stored per event). Existing events are
renumbered per organization and left unsealed (key_id NULL): `milepost chain reseal` seals them once with
the current key; until then `milepost chain verify` reports them.

Revision ID: 0008trace
Revises: 0007trace
Create Date: 2026-12-02 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008trace'
down_revision = '0007trace'
branch_labels = None
depends_on = None

RENUMBER = {
    'postgresql': """UPDATE custody_events e SET sequence = r.n
                       FROM (SELECT id, row_number() OVER (PARTITION BY organization_id ORDER BY sequence) AS n
                               FROM custody_events) r
                      WHERE e.id = r.id""",
    'sqlite': """UPDATE custody_events SET sequence = (
                   SELECT count(*) FROM custody_events e2
                    WHERE e2.organization_id = custody_events.organization_id AND e2.sequence <= custody_events.sequence)""",
}
HEADS = """INSERT INTO custody_chain_heads (organization_id, sequence, hash)
           SELECT e.organization_id, e.sequence, e.hash FROM custody_events e
            WHERE e.sequence = (SELECT max(sequence) FROM custody_events m WHERE m.organization_id = e.organization_id)"""


def upgrade() -> None:
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=1), nullable=True))
        batch_op.drop_constraint('uq_custody_events_sequence', type_='unique')
        batch_op.drop_constraint('uq_custody_events_hash', type_='unique')
        batch_op.drop_index(batch_op.f('ix_custody_events_organization_id'))
        batch_op.create_index(batch_op.f('ix_custody_events_destination_id'), ['destination_id'], unique=False)
    op.execute(RENUMBER[op.get_bind().dialect.name])
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_custody_events_organization_sequence', ['organization_id', 'sequence'])
    op.drop_table('custody_chain_heads')
    op.create_table(
        'custody_chain_heads',
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ['organization_id'], ['organizations.id'], name=op.f('fk_custody_chain_heads_organization_id_organizations')
        ),
        sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_custody_chain_heads')),
    )
    op.execute(HEADS)


def downgrade() -> None:
    # The single global chain cannot be restored: the events keep their per-organization numbers, renumbered
    # globally in id order, and must be verified as a new chain.
    op.drop_table('custody_chain_heads')
    op.create_table(
        'custody_chain_heads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_chain_heads')),
    )
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_custody_events_organization_sequence', type_='unique')
    op.execute("UPDATE custody_events SET sequence = id")
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_events_destination_id'))
        batch_op.create_index(batch_op.f('ix_custody_events_organization_id'), ['organization_id'], unique=False)
        batch_op.create_unique_constraint('uq_custody_events_hash', ['hash'])
        batch_op.create_unique_constraint('uq_custody_events_sequence', ['sequence'])
        batch_op.drop_column('key_id')
