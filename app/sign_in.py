"""Signing in: the password, and a texted code on top of it while the account or the whole service is sprayed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from sqlalchemy.orm import Session

from app.errors import CountedFailure
from app.one_time_codes import CodePurpose, PhoneCodeSettings, prove_phone, send_phone_code
from app.security import (
    GLOBAL_KEY,
    LoginLimits,
    User,
    authenticate,
    count_recent_attempts,
    is_sign_in_under_attack,
    record_attempt,
)
from app.sms import SmsSender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeSent:
    """The password was right, but this sign-in also needs the code just texted to the account's phone."""

    phone: str
    message = "enter the code we texted to your phone to finish signing in"


def sign_in(
    session: Session,
    login: str,
    password: str,
    code: str | None,
    client: str,
    limits: LoginLimits,
    sender: SmsSender,
    rules: PhoneCodeSettings,
) -> User | CodeSent:
    """Return the user when the password is right and, while sign-ins are under attack, the texted code too.

    Without the code, the code is texted and CodeSent returned (not raised: the code just stored must be kept).

    Under attack (many failures against this account from many addresses, or a spray over all accounts) a
    guessed password alone no longer gets in; the owner, who holds the phone, still does. Accounts without a
    phone (staff signing in by email) keep the per-address limits only.
    """
    try:
        user = authenticate(session, login, password, client, limits)
    except CountedFailure as failure:
        # A kept write runs now and again after the request's rollback: log the alert only once.
        logged: list[bool] = []
        failure.keeping(session, partial(alert_oem_of_spray, limits=limits, logged=logged))
        raise
    if user.phone is None or not is_sign_in_under_attack(session, user, limits):
        return user
    if code:
        prove_phone(session, user.phone, CodePurpose.SIGN_IN, code, rules)
        return user
    send_phone_code(session, sender, user.phone, CodePurpose.SIGN_IN, client, rules)
    return CodeSent(user.phone)


def alert_oem_of_spray(session: Session, limits: LoginLimits, logged: list[bool]) -> None:
    """Alert the OEM once per window when failed sign-ins over all accounts pass the overall limit."""
    failures = count_recent_attempts(session, "login", GLOBAL_KEY, limits.window)
    if failures < limits.overall or count_recent_attempts(session, "security_alert", "login_spray", limits.window):
        return
    record_attempt(session, "security_alert", "login_spray")
    if logged:
        return
    logged.append(True)
    log.error(
        "SECURITY ALERT for the OEM: %s failed sign-ins within %s across all accounts (a password spray); "
        "sign-ins with a phone now need a texted code",
        failures,
        limits.window,
    )
