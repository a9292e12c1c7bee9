"""A sign-in checks the password (a deliberately slow hash) without holding SQLite's one write lock: other writers
(the demo build, a job, another sign-in) get through meanwhile, and the sign-in still succeeds, hashing once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.security import ApiToken, Role, TokenKind
from milepost.factory import create_app
from tests.app.web.test_auth import csrf_of
from tests.conftest import test_settings as settings_for_tests
from tests.factories import PASSWORD, make_user


@pytest.fixture
def committed_app(committed_engine, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(settings_for_tests(database_url))
    yield app
    app.extensions["milepost.engine"].dispose()


def _write_elsewhere(engine, user_id: int) -> None:
    """Commit a write from another connection, failing within a second if the write lock is taken."""
    with engine.connect() as other:
        if engine.dialect.name == "sqlite":
            other.connection.driver_connection.execute("PRAGMA busy_timeout = 1000")
        with other.begin():
            other.execute(text("UPDATE users SET display_name = 'written meanwhile' WHERE id = :id"), {"id": user_id})


@pytest.mark.parametrize("path", ["/login", "/api/v1/auth/tokens"])
def test_another_writer_commits_while_a_sign_in_checks_the_password(
    committed_app, committed_session, committed_engine, monkeypatch, path
):
    import app.security as security

    user = make_user(committed_session, Role.DEALER_STAFF)
    bystander = make_user(committed_session, Role.DEALER_STAFF)
    committed_session.commit()
    hashed = []
    real = security.check_password_hash

    def check_while_another_writes(stored, password):
        hashed.append(1)
        _write_elsewhere(committed_engine, bystander.id)  # a sign-in holding the lock would make this fail
        return real(stored, password)

    monkeypatch.setattr(security, "check_password_hash", check_while_another_writes)
    client = committed_app.test_client()
    if path == "/login":
        form = {"csrf_token": csrf_of(client.get("/login")), "login": user.email, "password": PASSWORD}
        status, kind = client.post("/login", data=form).status_code, TokenKind.BROWSER
    else:
        status = client.post(path, json={"email": user.email, "password": PASSWORD}).status_code
        kind = TokenKind.API

    committed_session.expire_all()
    tokens = committed_session.scalar(
        select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id, ApiToken.kind == kind)
    )
    assert (status, tokens) == ((302, 1) if path == "/login" else (201, 1))
    assert hashed == [1]  # the retry with the lock (SQLite) reuses the answer
    assert committed_session.get(type(bystander), bystander.id).display_name == "written meanwhile"


def test_a_wrong_password_is_still_counted_and_refused(committed_app, committed_session, committed_engine, monkeypatch):
    import app.security as security

    user = make_user(committed_session, Role.DEALER_STAFF)
    committed_session.commit()
    real = security.check_password_hash

    def check_while_another_writes(stored, password):
        _write_elsewhere(committed_engine, user.id)
        return real(stored, password)

    monkeypatch.setattr(security, "check_password_hash", check_while_another_writes)
    client = committed_app.test_client()
    form = {"csrf_token": csrf_of(client.get("/login")), "login": user.email, "password": "wrong-password"}

    assert client.post("/login", data=form).status_code == 401
    committed_session.expire_all()
    assert committed_session.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert committed_session.scalar(text("SELECT count(*) FROM attempts WHERE bucket = 'login'")) == 4
