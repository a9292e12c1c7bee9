"""crm: notifications and rate-limit attempts keep the mobile number they name in an indexed column, for erasure

Erasure used to search every notification's values and every attempt's key for the number (a scan of each table
per erasure). The columns are filled here from what the rows already say: a lead's notification from the lead's
number, any other from a number written in its values, an attempt from its key.

Revision ID: 0014erasekeys
Revises: 0012pipl
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0014erasekeys"
down_revision = "0012pipl"
branch_labels = None
depends_on = None

MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
WHOLE_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
BATCH = 1000

notifications = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("params", sa.JSON),
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.String),
    sa.column("about_phone", sa.String),
)
attempts = sa.table("attempts", sa.column("id", sa.Integer), sa.column("key", sa.String), sa.column("phone", sa.String))
leads = sa.table("leads", sa.column("id", sa.Integer), sa.column("phone", sa.String))


def _params_text(params: object) -> str:
    if isinstance(params, str):  # some drivers hand JSON back as text
        params = json.loads(params or "{}")
    return " ".join(str(value) for value in (params or {}).values())


def _fill(connection: sa.Connection, table: sa.TableClause, column: str, values: dict[int, str]) -> None:
    if values:
        statement = table.update().where(table.c.id == sa.bindparam("row_id")).values({column: sa.bindparam("value")})
        connection.execute(statement, [{"row_id": key, "value": value} for key, value in values.items()])


def _backfill(connection: sa.Connection) -> None:
    lead_phone = (
        sa.select(leads.c.phone)
        .where(sa.cast(leads.c.id, sa.String) == notifications.c.subject_id)
        .scalar_subquery()
    )
    connection.execute(notifications.update().where(notifications.c.subject_type == "lead").values(about_phone=lead_phone))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(notifications.c.id, notifications.c.params)
            .where(notifications.c.id > last, notifications.c.about_phone.is_(None))
            .order_by(notifications.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        found = {row.id: MOBILE.search(_params_text(row.params)) for row in rows}
        _fill(connection, notifications, "about_phone", {key: match.group(0) for key, match in found.items() if match})
        last = rows[-1].id
    last = 0
    while True:
        rows = connection.execute(
            sa.select(attempts.c.id, attempts.c.key).where(attempts.c.id > last).order_by(attempts.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        named = {}
        for row in rows:
            # "phone:N" (codes sent), "login:N" and "login:N@client" (a sign-in with a number that is no account).
            kind, _, rest = row.key.partition(":")
            candidate = rest.split("@", 1)[0]
            if kind in ("phone", "login") and WHOLE_MOBILE.match(candidate):
                named[row.id] = candidate
        _fill(connection, attempts, "phone", named)
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("about_phone", sa.String(length=20), nullable=True))
        batch.create_index("ix_notifications_about_phone", ["about_phone"])
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch.create_index("ix_attempts_phone", ["phone"])
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_index("ix_attempts_phone")
        batch.drop_column("phone")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index("ix_notifications_about_phone")
        batch.drop_column("about_phone")
