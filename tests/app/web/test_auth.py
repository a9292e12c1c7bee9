"""Bearer tokens and browser sign-in: limits per account and per client, expiry, revocation, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.security import Role, issue_token
from tests.factories import PASSWORD, auth_header, make_driver, make_user, texted_code


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


def test_guessing_from_one_address_stops_there_and_the_owner_elsewhere_still_gets_in(app, client, session):
    user = make_user(session)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert ask_token(client, user.email, "wrong", address="10.0.1.1").status_code == 401

    guesser = ask_token(client, user.email, PASSWORD, address="10.0.1.1")
    owner = ask_token(client, user.email, PASSWORD, address="10.0.2.1")

    assert guesser.status_code == 429
    assert 0 < int(guesser.headers["Retry-After"]) <= app.config["LOGIN_WINDOW_SECONDS"]
    assert owner.status_code == 201


def test_the_oems_account_is_not_locked_by_five_wrong_passwords_from_anywhere(app, client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    for attempt in range(app.config["LOGIN_MAX_FAILURES"] * 2):
        ask_token(client, oem.email, "wrong", address=f"10.0.1.{attempt}")

    assert ask_token(client, oem.email, PASSWORD, address="10.0.3.1").status_code == 201


def test_a_sprayed_driver_account_needs_the_texted_code_on_top_of_the_password(app, client, session):
    app.config["LOGIN_MAX_ACCOUNT_FAILURES"] = 3
    driver, _customer = make_driver(session)
    for attempt in range(3):
        ask_token(client, driver.phone, "wrong", address=f"10.0.1.{attempt}")

    asked = ask_token(client, driver.phone, PASSWORD, address="10.0.2.1")
    code = texted_code(app, driver.phone)
    signed_in = client.post(
        "/api/v1/auth/tokens",
        json={"phone": driver.phone, "password": PASSWORD, "code": code},
        environ_base={"REMOTE_ADDR": "10.0.2.1"},
    )

    assert (asked.status_code, asked.json["error"]["code"]) == (401, "code_required")
    assert signed_in.status_code == 201


def test_a_spray_over_all_accounts_alerts_the_oem_once(app, client, session, caplog):
    app.config["LOGIN_MAX_GLOBAL_FAILURES"] = 4

    with caplog.at_level("ERROR", logger="app.sign_in"):
        for attempt in range(6):
            ask_token(client, f"user{attempt}@spray.test", "wrong", address=f"10.0.4.{attempt}")

    assert caplog.text.count("SECURITY ALERT") == 1


def test_unknown_and_known_accounts_get_the_same_answers(app, client, session):
    user = make_user(session)
    limit = app.config["LOGIN_MAX_FAILURES"]
    known = [ask_token(client, user.email, "wrong", address="10.0.5.1") for _ in range(limit + 1)]
    unknown = [ask_token(client, "nobody@example.test", "wrong", address="10.0.6.1") for _ in range(limit + 1)]

    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * limit + [429]
    assert known[0].json == unknown[0].json


def test_an_unknown_account_costs_the_same_password_hashing(client, session, monkeypatch):
    import app.security as security

    checked = []
    real = security.check_password_hash
    monkeypatch.setattr(security, "check_password_hash", lambda *args: checked.append(1) or real(*args))

    ask_token(client, "nobody@example.test", "wrong")

    assert checked == [1]


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


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\\evil.com"],
)
def test_login_never_redirects_off_site(client, session, target):
    user = make_user(session)
    csrf = csrf_of(client.get("/login"))

    response = client.post(
        "/login", query_string={"next": target}, data={"csrf_token": csrf, "login": user.email, "password": PASSWORD}
    )

    assert response.headers["Location"] == "/"


def test_login_keeps_a_path_on_this_site_as_next(client, session):
    user = make_user(session)
    csrf = csrf_of(client.get("/login"))

    response = client.post(
        "/login",
        query_string={"next": "/crm/vehicles?q=1"},
        data={"csrf_token": csrf, "login": user.email, "password": PASSWORD},
    )

    assert response.headers["Location"] == "/crm/vehicles?q=1"


@pytest.mark.parametrize("target", ["/\r\nSet-Cookie: x=1", "/\x00", "/\t/evil.example/"])
def test_login_refuses_control_characters_in_next_naming_the_field(client, target):
    response = client.get("/login", query_string={"next": target}, headers={"Accept": "application/json"})

    assert response.status_code == 400
    assert response.json["error"]["field"] == "next"


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


def test_token_for_a_phone_typed_in_full_width_digits(client, session):
    driver, _customer = make_driver(session)
    full_width = driver.phone.translate({ord(str(digit)): chr(0xFF10 + digit) for digit in range(10)})

    response = ask_token(client, full_width, PASSWORD)

    assert response.status_code == 201


def test_login_with_a_tab_encoded_next_is_refused_before_any_redirect(client):
    response = client.get("/login?next=/%09/evil.example/")

    assert response.status_code == 400
    assert "Location" not in response.headers


def copy_cookie(source, target) -> None:
    """Give `target` the session cookie `source` holds (a stolen or copied cookie)."""
    with source.session_transaction() as cookie:
        copied = dict(cookie)
    with target.session_transaction() as cookie:
        cookie.update(copied)


def test_a_copied_cookie_stops_working_at_logout(app, client, session):
    user = make_user(session)
    _response, csrf = sign_in_browser(client, user.email, PASSWORD)
    thief = app.test_client()
    copy_cookie(client, thief)
    assert thief.get("/api/v1/organizations").status_code == 200

    client.post("/logout", data={"csrf_token": csrf})

    assert thief.get("/api/v1/organizations").status_code == 401


def test_password_change_signs_out_other_browsers_and_tokens_but_not_this_one(app, client, session):
    user = make_user(session)
    token = ask_token(client, user.email, PASSWORD).json["token"]
    other = app.test_client()
    sign_in_browser(other, user.email, PASSWORD)
    _response, csrf = sign_in_browser(client, user.email, PASSWORD)

    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a-new-long-one-7"},
        headers={"X-CSRF-Token": csrf},
    )

    assert changed.status_code == 204
    assert client.get("/api/v1/organizations").status_code == 200
    assert other.get("/api/v1/organizations").status_code == 401
    assert client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ask_token(app.test_client(), user.email, "a-new-long-one-7").status_code == 201


def test_password_change_needs_the_current_password_and_the_policy(client, session):
    user = make_user(session)
    headers = auth_header(session, user)

    wrong = client.post(
        "/api/v1/auth/password", json={"current_password": "nope", "new_password": "a-new-long-one-7"}, headers=headers
    )
    common = client.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "password1"}, headers=headers
    )

    assert (wrong.status_code, wrong.json["error"]["field"]) == (400, "current_password")
    assert (common.status_code, common.json["error"]["field"]) == (400, "password")


def test_password_page_changes_the_password(app, client, session):
    user = make_user(session)
    _response, csrf = sign_in_browser(client, user.email, PASSWORD)

    response = client.post(
        "/account/password", data={"csrf_token": csrf, "current_password": PASSWORD, "new_password": "a-new-long-one-7"}
    )

    assert response.status_code == 200
    assert "已退出" in response.text
    assert ask_token(app.test_client(), user.email, "a-new-long-one-7").status_code == 201


def test_a_bearer_token_is_not_a_browser_sign_in(app, client, session):
    user = make_user(session)
    token = ask_token(client, user.email, PASSWORD).json["token"]

    with client.session_transaction() as cookie:
        cookie["sign_in"] = token

    assert client.get("/api/v1/organizations").status_code == 401
