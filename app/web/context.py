"""Per-request resources: the database session and the signed-in actor."""

from __future__ import annotations

from flask import current_app, g, request
from flask import session as cookie_session
from sqlalchemy.orm import Session

from app.db import READ_ROUTER_KEY, SESSIONMAKER_KEY
from app.errors import MilepostError
from app.one_time_codes import PhoneCodeSettings
from app.security import TokenKind, User, find_user_by_token
from app.signing import KeyRing
from app.sms import SmsSender

KEYRING_KEY = "milepost.keyring"
SMS_KEY = "milepost.sms"
# The cookie-session key that holds the browser's sign-in token.
SIGN_IN_KEY = "sign_in"


def db_session() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[SESSIONMAKER_KEY]()
    return g.db_session


def report_session() -> Session:
    """Return this request's session for an OEM report (coverage, scan statistics, EPCIS export, activity log):
    on the read replica when DATABASE_REPLICA_URL names one that answers, else the request's own session."""
    if "report_session" not in g:
        g.report_session = current_app.extensions[READ_ROUTER_KEY].replica_session() or db_session()
    return g.report_session


def close_db_session(_exc: BaseException | None = None) -> None:
    """Close the request's sessions; anything not committed is rolled back."""
    for name in ("report_session", "db_session"):
        session = g.pop(name, None)
        if session is not None:
            session.close()


def bearer_token() -> str | None:
    """Return the bearer token sent with the request, if any."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_actor() -> User | None:
    """Return the user behind the bearer token or the signed session cookie, or None."""
    if "actor" in g:
        return g.actor
    actor: User | None = None
    token = bearer_token()
    if token:
        actor = find_user_by_token(db_session(), token)
    elif cookie_session.get(SIGN_IN_KEY):
        # The cookie names a server-side sign-in record: signing out or a password change ends it for good.
        actor = find_user_by_token(db_session(), cookie_session[SIGN_IN_KEY], TokenKind.BROWSER)
    g.actor = actor
    return actor


def client_address() -> str:
    """Return the client's address as the proxy in front of gunicorn reports it (ProxyFix applies)."""
    return request.remote_addr or "unknown"


def settings() -> dict:
    """Return the application's settings."""
    return current_app.config


class KeysMissing(MilepostError):
    """The installation has no code-signing keys yet."""

    status = 503
    code = "keys_missing"


def code_keyring() -> KeyRing:
    """Return the key ring that signs and verifies part codes and plaques."""
    ring = current_app.extensions.get(KEYRING_KEY)
    if ring is None:
        raise KeysMissing("no code keys: run `milepost init` or set MILEPOST_CODE_KEYS")
    return ring


def sms_sender() -> SmsSender:
    """Return the text-message sender the settings chose (app.sms)."""
    return current_app.extensions[SMS_KEY]


def phone_code_rules() -> PhoneCodeSettings:
    """Return the one-time code rules from the settings."""
    return PhoneCodeSettings.from_settings(current_app.config)
