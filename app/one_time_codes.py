"""One-time codes texted to a phone: proof that the person in front of us holds that number.

A code has 6 digits, lives PHONE_CODE_SECONDS (5 minutes), and dies after PHONE_CODE_MAX_TRIES (5) wrong tries
or its first right one. Sending is limited per number (so nobody floods a stranger's phone) and per client
address (so nobody burns the SMS budget). Only an HMAC of the code is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import Index, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, utcnow
from app.errors import CountedFailure, MilepostError
from app.phones import normalize_phone
from app.security import ensure_attempts_left, record_attempt
from app.sms import VERIFICATION_CODE, SmsFailed, SmsSender

CODE_DIGITS = 6


class CodePurpose(StrEnum):
    """What a code proves the phone for."""

    REGISTER = "register"
    SIGN_IN = "sign_in"
    CLOSE_ACCOUNT = "close_account"


class PhoneCode(Base):
    """One code sent to one phone number for one purpose."""

    __tablename__ = "phone_codes"
    __table_args__ = (Index("ix_phone_codes_phone_purpose", "phone", "purpose", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


@dataclass(frozen=True)
class PhoneCodeSettings:
    """The code rules, read once from the settings."""

    secret: str
    lifetime: timedelta
    max_tries: int
    sends_per_phone: int
    sends_per_client: int
    send_window: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: dict) -> PhoneCodeSettings:
        """Build the rules from the application's settings."""
        return cls(
            secret=settings["SECRET_KEY"],
            lifetime=timedelta(seconds=int(settings["PHONE_CODE_SECONDS"])),
            max_tries=int(settings["PHONE_CODE_MAX_TRIES"]),
            sends_per_phone=int(settings["PHONE_CODE_SENDS_PER_PHONE_HOUR"]),
            sends_per_client=int(settings["PHONE_CODE_SENDS_PER_CLIENT_HOUR"]),
        )


@dataclass(frozen=True)
class PhoneProof:
    """Evidence that a person holds `phone`: a right one-time code, or an operator's word (CLI, demo)."""

    phone: str
    method: str

    @classmethod
    def by_operator(cls, phone: str) -> PhoneProof:
        """Vouch for `phone` as the person running a command (never reachable from a request)."""
        return cls(normalize_phone(phone), "operator")


class SmsUnavailable(MilepostError):
    """The text message could not be sent; nothing else went wrong."""

    status = 503
    code = "sms_unavailable"


WRONG_CODE = "the code is wrong or has expired; ask for a new one"


def _digest(rules: PhoneCodeSettings, phone: str, purpose: str, code: str) -> str:
    return hmac.new(rules.secret.encode(), f"{purpose}|{phone}|{code}".encode(), hashlib.sha256).hexdigest()


def send_phone_code(
    session: Session, sender: SmsSender, phone: str, purpose: str, client: str, rules: PhoneCodeSettings
) -> PhoneCode:
    """Text a fresh code to `phone` for `purpose`; earlier open codes of that number and purpose die."""
    phone = normalize_phone(phone)
    phone_key, client_key = f"phone:{phone}", f"client:{client}"
    ensure_attempts_left(
        session,
        "phone_code_send",
        [phone_key, client_key],
        rules.sends_per_phone,
        rules.send_window,
        {client_key: rules.sends_per_client},
    )
    now = utcnow()
    session.execute(
        update(PhoneCode)
        .where(PhoneCode.phone == phone, PhoneCode.purpose == purpose, PhoneCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    record = PhoneCode(
        phone=phone,
        purpose=purpose,
        code_hash=_digest(rules, phone, purpose, code),
        created_at=now,
        expires_at=now + rules.lifetime,
    )
    session.add(record)
    record_attempt(session, "phone_code_send", phone_key, phone=phone)
    record_attempt(session, "phone_code_send", client_key)
    minutes = str(max(1, int(rules.lifetime.total_seconds() // 60)))
    try:
        sender.send(phone, VERIFICATION_CODE, {"code": code, "minutes": minutes})
    except SmsFailed as error:
        raise SmsUnavailable("the text message could not be sent; try again in a few minutes", field="phone") from error
    session.flush()
    return record


def _count_wrong_try(session: Session, code_id: int) -> None:
    session.execute(update(PhoneCode).where(PhoneCode.id == code_id).values(failures=PhoneCode.failures + 1))


def prove_phone(session: Session, phone: str, purpose: str, code: str, rules: PhoneCodeSettings) -> PhoneProof:
    """Use up the open code of `phone` for `purpose` when `code` is it; a wrong code counts as one of its tries."""
    phone = normalize_phone(phone)
    now = utcnow()
    record = session.scalar(
        select(PhoneCode)
        .where(
            PhoneCode.phone == phone,
            PhoneCode.purpose == purpose,
            PhoneCode.used_at.is_(None),
            PhoneCode.expires_at > now,
            PhoneCode.failures < rules.max_tries,
        )
        .order_by(PhoneCode.created_at.desc(), PhoneCode.id.desc())
        .limit(1)
    )
    given = "".join(char for char in (code or "") if char.isascii() and char.isdigit())
    if record is None or not hmac.compare_digest(record.code_hash, _digest(rules, phone, purpose, given)):
        failure = CountedFailure(WRONG_CODE, field="code")
        if record is not None:
            failure.keeping(session, partial(_count_wrong_try, code_id=record.id))
        raise failure
    # A conditional UPDATE, so two requests racing with the same right code use it once.
    used = session.execute(
        update(PhoneCode)
        .where(PhoneCode.id == record.id, PhoneCode.used_at.is_(None), PhoneCode.failures < rules.max_tries)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise CountedFailure(WRONG_CODE, field="code")
    return PhoneProof(phone, "sms_code")
