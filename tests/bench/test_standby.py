"""Against a real streaming-replication standby: the OEM's activity log is read from it, and it has what the
primary committed a moment ago.

Skipped unless TEST_STANDBY_URL names a standby of TEST_DATABASE_URL's server, e.g. after
`python -m bench.standby setup` (port 5433; `python -m bench.standby teardown` afterwards):

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/milepost_test_x \\
    TEST_STANDBY_URL=postgresql+psycopg://postgres@127.0.0.1:5433/milepost_test_x pytest tests/bench/test_standby.py
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import text

from app.crm.activity import record_activity
from app.db import READ_ROUTER_KEY
from app.security import Role
from milepost.factory import create_app
from tests import conftest
from tests.factories import auth_header, make_organization, make_user

STANDBY = os.environ.get("TEST_STANDBY_URL", "")

pytestmark = pytest.mark.skipif(
    not STANDBY, reason="needs a real standby: `python -m bench.standby setup`, then set TEST_STANDBY_URL"
)


def test_the_activity_log_is_read_from_the_standby_which_has_the_primarys_commits(
    committed_session, database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    oem = make_user(
        committed_session, role=Role.OEM_ADMIN, organization=make_organization(committed_session, kind="oem")
    )
    headers = auth_header(committed_session, oem)
    record_activity(committed_session, oem, "standby.marker", "test", 1)
    committed_session.commit()
    app = create_app(conftest.test_settings(database_url, DATABASE_REPLICA_URL=STANDBY))
    router = app.extensions[READ_ROUTER_KEY]

    replica = router.replica_session()
    in_recovery = replica.scalar(text("SELECT pg_is_in_recovery()"))
    replica.close()
    deadline, actions = time.monotonic() + 5, []
    while "standby.marker" not in actions and time.monotonic() < deadline:
        response = app.test_client().get("/api/v1/activity?action=standby.", headers=headers)
        actions = [item["action"] for item in response.get_json()["items"]]
    router.dispose()
    app.extensions["milepost.engine"].dispose()

    assert in_recovery is True
    assert actions == ["standby.marker"]
