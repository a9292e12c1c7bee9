"""The OEM's heavy reads (coverage, scan statistics, EPCIS export, activity log) go to DATABASE_REPLICA_URL while
it answers and to the primary otherwise; everything else always reads the primary."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import ConfigError, load_settings, validate_settings
from app.crm.activity import record_activity
from app.db import READ_ROUTER_KEY, ReadRouter, make_engine, make_read_router
from app.security import Role
from app.web.context import db_session
from milepost import migrate
from milepost.factory import create_app
from tests import conftest
from tests.factories import auth_header, make_organization, make_user, sign_in_client

# Nothing listens on the discard port: a replica that is down.
DOWN = "postgresql+psycopg://postgres@127.0.0.1:9/milepost"
HEAVY_READS = [
    "/api/v1/activity",
    "/api/v1/scans/stats",
    "/api/v1/epcis/events",
    "/api/v1/coverage",
    "/api/v1/coverage/capacity",
    "/oem/scans",
    "/coverage",
]


@pytest.fixture
def oem(session):
    return make_user(session, role=Role.OEM_ADMIN, organization=make_organization(session, kind="oem"))


class Counting:
    """A session factory that counts the sessions it opens."""

    def __init__(self, factory):
        self.factory, self.opened = factory, 0

    def __call__(self):
        self.opened += 1
        return self.factory()


def test_without_a_replica_url_heavy_reads_stay_on_the_primary():
    assert make_read_router("").replica_session() is None


def test_a_replica_that_is_down_is_skipped_and_tried_again_after_the_retry_period():
    now = [1000.0]
    router = make_read_router(DOWN, retry_seconds=30)
    router.clock = lambda: now[0]
    router.replica = counting = Counting(router.replica)

    first = router.replica_session()
    now[0] += 10
    within = router.replica_session()
    now[0] += 25
    after = router.replica_session()
    router.dispose()

    assert (first, within, after) == (None, None, None)
    assert counting.opened == 2  # once at first, not again within 30 s, once more after


def test_the_replica_url_must_be_postgresql():
    settings = load_settings({"TESTING": True, "DATABASE_REPLICA_URL": "mysql://x"}, environ={})

    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        validate_settings(settings)


@pytest.mark.parametrize("path", HEAVY_READS)
def test_every_heavy_oem_read_asks_the_replica(app, client, session, oem, path):
    # The request's own session stands in for the replica's (same data, one connection).
    replica = Counting(db_session)
    app.extensions[READ_ROUTER_KEY] = ReadRouter(replica)
    sign_in_client(client, oem)

    response = client.get(path, headers=auth_header(session, oem) if path.startswith("/api/") else {})

    assert response.status_code == 200
    assert replica.opened == 1


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/healthz", "/01/06901234000017/21/ABC?c=A0"])
def test_other_reads_never_ask_the_replica(app, client, session, oem, path):
    replica = Counting(db_session)
    app.extensions[READ_ROUTER_KEY] = ReadRouter(replica)

    client.get(path, headers=auth_header(session, oem))

    assert replica.opened == 0


@pytest.fixture
def second_database(database_url):
    """A second database on the same server, migrated, standing in for a standby (PostgreSQL only)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a second database stands in for the standby on PostgreSQL (set TEST_DATABASE_URL)")
    base = make_url(database_url)
    name = f"{base.database}_replica"
    admin = make_engine(
        base.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    with engine.begin() as connection:
        migrate.upgrade(connection=connection)
        connection.execute(
            text(
                "INSERT INTO activity_log (occurred_at, actor_role, action, subject_type, subject_id, details) "
                "VALUES (now(), 'system', 'replica.marker', 'test', '1', '{}')"
            )
        )
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("replica_up", [True, False], ids=["replica up", "replica down"])
def test_the_activity_log_is_read_from_the_replica_while_it_answers(
    connection, session, oem, database_url, second_database, tmp_path, monkeypatch, replica_up
):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    replica_url = second_database if replica_up else DOWN
    app = create_app(conftest.test_settings(database_url, DATABASE_REPLICA_URL=replica_url), connection=connection)
    record_activity(session, oem, "primary.marker", "test", 1)
    session.flush()

    response = app.test_client().get("/api/v1/activity", headers=auth_header(session, oem))
    app.extensions[READ_ROUTER_KEY].dispose()

    assert response.status_code == 200
    actions = [item["action"] for item in response.get_json()["items"]]
    assert actions == (["replica.marker"] if replica_up else ["primary.marker"])
