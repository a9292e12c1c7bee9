"""Bearer tokens and browser sign-in: limits per account and per client, expiry, revocation, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.security import Role, issue_token
from tests.factories import PASSWORD, auth_header, make_driver, make_user


def ask_token(client, login, password, address="10.0.0.1"):
    key = "phone" if "@" not in login else "email"
    return client.post(
        "/api/v1/auth/tokens", json={key: login, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_token_is_issued_for_email_and_password(client, session):
    user = make_user(session, Role.DEALER_STAFF)

    response = ask_token(client, user.email.upper(), PASSWORD)

    assert response.status_code == 201
    assert set(response.json) == {"token", "expires_at", "role"}
    me = client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert me.status_code == 200


def test_token_is_issued_for_a_drivers_phone_in_any_format(client, session):
    driver, _customer = make_driver(session)

    response = ask_token(client, "+86 " + driver.phone, PASSWORD)

    assert response.status_code == 201
    assert response.json["role"] == "driver"


@pytest.mark.parametrize("login", ["nobody@example.test", "13999999999"])
def test_token_refused_for_unknown_login_or_wrong_password(client, session, login):
    make_user(session)

    response = ask_token(client, login, "wrong-password")

    assert response.status_code == 401
    assert response.json["error"]["code"] == "wrong_secret"


def test_login_limit_per_account_applies_across_client_addresses(app, client, session):
    user = make_user(session)
    limit = app.config["LOGIN_MAX_FAILURES"]
    for attempt in range(limit):
        assert ask_token(client, user.email, "wrong", address=f"10.0.1.{attempt}").status_code == 401

    response = ask_token(client, user.email, PASSWORD, address="10.0.2.1")

    assert response.status_code == 429
    assert response.json["error"]["code"] == "rate_limited"
    assert 0 < int(response.headers["Retry-After"]) <= app.config["LOGIN_WINDOW_SECONDS"]


def test_login_limit_per_client_applies_across_accounts(app, client, session):
    app.config["LOGIN_MAX_CLIENT_FAILURES"] = 3
    victim = make_user(session)
    for number in range(3):
        assert ask_token(client, f"guess{number}@example.test", "wrong").status_code == 401

    response = ask_token(client, victim.email, PASSWORD)

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert ask_token(client, victim.email, PASSWORD, address="10.9.9.9").status_code == 201


def test_failed_attempts_are_kept_although_the_request_fails(app, client, session):
    user = make_user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        ask_token(client, user.email, "wrong")

    assert ask_token(client, user.email, PASSWORD).status_code == 201
    assert ask_token(client, user.email, "wrong").status_code == 401
    assert ask_token(client, user.email, PASSWORD).status_code == 429


def test_expired_token_is_refused(client, session):
    user = make_user(session)
    token, _record = issue_token(session, user, timedelta(seconds=-1))

    response = client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401


def test_revoked_token_is_refused(client, session):
    headers = auth_header(session, make_user(session))

    revoked = client.delete("/api/v1/auth/tokens/current", headers=headers)
    response = client.get("/api/v1/organizations", headers=headers)

    assert revoked.status_code == 204
    assert response.status_code == 401


def test_token_of_a_deactivated_user_is_refused(client, session):
    user = make_user(session)
    headers = auth_header(session, user)
    user.is_active = False
    session.flush()

    assert client.get("/api/v1/organizations", headers=headers).status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer mp_not-a-token", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization_is_treated_as_anonymous(client, header):
    response = client.get("/api/v1/organizations", headers={"Authorization": header})

    assert response.status_code == 401


def test_tokens_are_stored_hashed(session):
    user = make_user(session)

    token, record = issue_token(session, user, timedelta(hours=1))

    assert token not in record.token_hash and len(record.token_hash) == 64


def csrf_of(page) -> str:
    return page.text.split('<meta name="csrf-token" content="')[1].split('"')[0]


def sign_in_browser(client, login, password):
    """Sign in through the form; return the response and the CSRF token of the new session."""
    response = client.post(
        "/login", data={"csrf_token": csrf_of(client.get("/login")), "login": login, "password": password}
    )
    return response, csrf_of(client.get("/"))


def test_cookie_session_api_writes_need_the_csrf_header(client, session):
    user = make_user(session)
    _response, csrf = sign_in_browser(client, user.email, PASSWORD)
    body = {"kind": "dealer", "code": "CSRF-1", "name": "x"}

    without = client.post("/api/v1/organizations", json=body)
    with_header = client.post("/api/v1/organizations", json=body, headers={"X-CSRF-Token": csrf})

    assert without.status_code == 403
    assert without.json["error"]["field"] == "csrf_token"
    assert with_header.status_code == 201


def test_login_page_rate_limit_shows_a_message(app, client, session):
    user = make_user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in_browser(client, user.email, "wrong")

    response, _csrf = sign_in_browser(client, user.email, PASSWORD)

    assert response.status_code == 401
    assert "尝试次数过多" in response.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_site(client, session, target):
    user = make_user(session)
    csrf = csrf_of(client.get("/login"))

    response = client.post(
        "/login", query_string={"next": target}, data={"csrf_token": csrf, "login": user.email, "password": PASSWORD}
    )

    assert response.headers["Location"] == "/"


def test_logout_ends_the_browser_session(client, session):
    user = make_user(session)
    _response, csrf = sign_in_browser(client, user.email, PASSWORD)

    client.post("/logout", data={"csrf_token": csrf})

    assert client.get("/api/v1/organizations").status_code == 401


def test_sign_in_starts_a_new_session_with_a_new_csrf_token(client, session):
    user = make_user(session)
    before = csrf_of(client.get("/login"))

    _response, after = sign_in_browser(client, user.email, PASSWORD)

    assert after != before
