"""A scan on a pooled connection that PostgreSQL closed (a restart, pg_terminate_backend) is answered, not a 500.

The web server's engine keeps no pre-ping (milepost.server): a connection the server closed is found by the
request's first statement, and the request runs again, once, on a fresh connection (app.web.transaction).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from milepost.factory import create_app
from tests import conftest
from tests.traceability.factories import make_batch, part_path
from traceability.commissioning import list_batch_parts
from traceability.models import Scan


@pytest.fixture
def server_app(committed_session, database_url, tmp_path, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("a server-closed connection is a PostgreSQL case (set TEST_DATABASE_URL)")
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(conftest.test_settings(database_url), pre_ping=False)
    yield app
    app.extensions["milepost.engine"].dispose()


def _terminate_pooled_connections(app, session) -> None:
    """Close, from the server's side, the connection the app's pool keeps."""
    with app.extensions["milepost.engine"].connect() as connection:
        pid = connection.scalar(text("SELECT pg_backend_pid()"))
    assert session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    session.commit()


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_scan_on_a_connection_the_server_closed_is_a_200(server_app, committed_session, accept):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    committed_session.commit()
    client = server_app.test_client()
    assert client.get(part_path(part), headers={"Accept": accept}).status_code == 200
    _terminate_pooled_connections(server_app, committed_session)

    response = client.get(part_path(part), headers={"Accept": accept})

    assert response.status_code == 200
    assert committed_session.scalar(select(func.count()).select_from(Scan).where(Scan.part_id == part.id)) == 2
