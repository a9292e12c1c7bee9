"""Users, roles, password hashing, API tokens, attempt limits and the permission checks every endpoint uses."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import ForeignKey, Index, String, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import Base, utcnow
from app.errors import CountedFailure, Forbidden, InvalidInput, NotAuthenticated, RateLimited
from app.passwords import check_password_policy
from app.phones import is_mobile, normalize_login, normalize_phone

# scrypt with werkzeug's defaults (N=2**15): tens of milliseconds per guess, on purpose.
PASSWORD_METHOD = "scrypt"


class Role(StrEnum):
    """What a user is, which decides what they may see and change."""

    DRIVER = "driver"
    SHOP_STAFF = "shop_staff"
    DEALER_STAFF = "dealer_staff"
    WAREHOUSE_STAFF = "warehouse_staff"
    FACTORY_STAFF = "factory_staff"
    OEM_ADMIN = "oem_admin"


STAFF_ROLES = frozenset(Role) - {Role.DRIVER}


class User(Base):
    """A person who signs in: a driver (by phone) or the staff of an organization."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    # Named by table, not by model: organizations live in app.crm, a layer above this one.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def login(self) -> str:
        """Return what the user signs in with."""
        return self.email or self.phone or f"user-{self.id}"

    def has_role(self, *roles: str) -> bool:
        """Tell whether the user has one of `roles`."""
        return self.role in roles


class TokenKind(StrEnum):
    """What a token authenticates: a program (bearer header) or one browser's sign-in (session cookie)."""

    API = "api"
    BROWSER = "browser"


class ApiToken(Base):
    """A bearer token for programs, or the server-side record of one browser sign-in; only its SHA-256 is stored.

    A browser's cookie carries the token of its sign-in, so signing out (or changing the password) ends the
    sign-in on the server: a copied cookie stops working with it.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=TokenKind.API, server_default=TokenKind.API)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Attempt(Base):
    """One failed attempt at a secret (a login, an activation code), counted by bucket and key."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_bucket_key_at", "bucket", "key", "occurred_at"),
        Index("ix_attempts_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The mobile number the key names ("phone:1391234...", a sign-in with a number that is no account yet), so
    # that erasing its person deletes these rows through an index.
    phone: Mapped[str | None] = mapped_column(String(20))


def hash_password(password: str, *, phone: str | None = None, email: str | None = None) -> str:
    """Hash a password that meets the policy for the account with a slow, salted hash."""
    check_password_policy(password, phone=phone, email=email)
    return generate_password_hash(password, method=PASSWORD_METHOD)


def create_user(
    session: Session,
    *,
    role: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    organization_id: int | None = None,
    display_name: str = "",
) -> User:
    """Create a user; staff must belong to an organization, drivers must not."""
    if role not in Role.__members__.values():
        raise InvalidInput(f"unknown role %(role)r; one of {', '.join(Role)}", field="role", role=role)
    if not email and not phone:
        raise InvalidInput("an email or a phone number is required", field="email")
    if role != Role.DRIVER and organization_id is None:
        raise InvalidInput("a %(role)s user must belong to an organization", field="org", role=role)
    if email:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise InvalidInput("email is not an email address", field="email")
        if session.scalar(select(User.id).where(User.email == email)):
            raise InvalidInput("a user with this email exists", field="email")
    phone = normalize_phone(phone) if phone else None
    if phone and session.scalar(select(User.id).where(User.phone == phone)):
        raise InvalidInput("a user with this phone number exists", field="phone")
    user = User(
        email=email or None,
        phone=phone or None,
        password_hash=hash_password(password, phone=phone, email=email),
        role=role,
        organization_id=organization_id,
        display_name=display_name,
    )
    session.add(user)
    session.flush()
    return user


def count_recent_attempts(session: Session, bucket: str, key: str, window: timedelta) -> int:
    """Count the failed attempts in `bucket` for `key` within the last `window`."""
    since = utcnow() - window
    return session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.bucket == bucket, Attempt.key == key, Attempt.occurred_at >= since)
    )


def record_attempt(session: Session, bucket: str, key: str, phone: str | None = None) -> None:
    """Record one failed attempt (`phone`: the mobile number the key names, if it names one)."""
    session.add(Attempt(bucket=bucket, key=key, phone=phone))
    session.flush()


def ensure_attempts_left(
    session: Session, bucket: str, keys: list[str], limit: int, window: timedelta, limits: dict[str, int] | None = None
) -> None:
    """Raise RateLimited when any of `keys` has used up its failures (`limits[key]`, else `limit`) within `window`.

    Retry-After is the time until enough of the counted failures have aged out of the window.
    """
    now = utcnow()
    for key in keys:
        allowed = (limits or {}).get(key, limit)
        recent = session.scalars(
            select(Attempt.occurred_at)
            .where(Attempt.bucket == bucket, Attempt.key == key, Attempt.occurred_at >= now - window)
            .order_by(Attempt.occurred_at.desc())
            .limit(allowed)
        ).all()
        if len(recent) >= allowed:
            # The oldest of the last `allowed` failures has to leave the window before one more try is allowed.
            wait = recent[-1] + window - now
            raise RateLimited(
                "too many failed attempts; try again later", retry_after=max(1, math.ceil(wait.total_seconds()))
            )


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins count as guessing, within `window`."""

    window: timedelta
    # Per (account, client address): past it that address may not try that account, right password or not.
    per_account_and_client: int
    # Per client address, any accounts (carrier-grade NAT puts many phones behind one address: higher).
    per_client: int
    # Per account from all addresses together: past it the right password also needs a texted code.
    per_account: int
    # All failures everywhere: past it every sign-in with a phone needs a texted code, and the OEM is alerted.
    overall: int

    @classmethod
    def from_settings(cls, settings: dict) -> LoginLimits:
        """Read the limits from the settings."""
        return cls(
            window=timedelta(seconds=int(settings["LOGIN_WINDOW_SECONDS"])),
            per_account_and_client=int(settings["LOGIN_MAX_FAILURES"]),
            per_client=int(settings["LOGIN_MAX_CLIENT_FAILURES"]),
            per_account=int(settings["LOGIN_MAX_ACCOUNT_FAILURES"]),
            overall=int(settings["LOGIN_MAX_GLOBAL_FAILURES"]),
        )


# Checked when no account matches, so that an unknown login costs the same scrypt work as a wrong password.
_UNKNOWN_ACCOUNT_HASH = generate_password_hash(secrets.token_urlsafe(16), method=PASSWORD_METHOD)
GLOBAL_KEY = "all"


# The answers of the password checks made in the current block (one request), by stored hash and password digest.
_password_checks: ContextVar[dict[tuple[str, str], bool] | None] = ContextVar("password_checks", default=None)


@contextmanager
def remembered_password_checks() -> Iterator[None]:
    """Remember each password check's answer in this block (one request and its retry).

    A sign-in reads, checks the password (a deliberately slow hash) and writes its token. On SQLite it does the
    first two outside the write lock; should another writer commit meanwhile, the request runs again with the lock
    (app.web.transaction), and the answer remembered here spares it the hash a second time."""
    token = _password_checks.set({})
    try:
        yield
    finally:
        _password_checks.reset(token)


def password_matches(stored_hash: str, password: str) -> bool:
    """Tell whether `password` matches `stored_hash` (remembered within remembered_password_checks)."""
    checks = _password_checks.get()
    if checks is None:
        return check_password_hash(stored_hash, password)
    key = (stored_hash, hashlib.sha256(password.encode()).hexdigest())
    if key not in checks:
        checks[key] = check_password_hash(stored_hash, password)
    return checks[key]


def authenticate(session: Session, login: str, password: str, client: str, limits: LoginLimits) -> User:
    """Return the active user whose email or phone is `login` and whose password matches.

    Failures are counted per (account, client address), per client address, per account and overall. The first
    two refuse with 429 once used up, right password or not, so guessing from one place stops without locking
    the owner out from another. Unknown logins are counted and hashed like known ones: the answers and their
    timing do not tell which accounts exist.
    """
    login = normalize_login(login)
    user = session.scalar(select(User).where((User.email == login) | (User.phone == login)))
    account = f"user:{user.id}" if user is not None else f"login:{login[:60]}"
    client_key, pair_key = f"client:{client}", f"{account}@{client}"
    ensure_attempts_left(
        session,
        "login",
        [client_key, pair_key],
        limits.per_account_and_client,
        limits.window,
        {client_key: limits.per_client},
    )
    matches = password_matches(user.password_hash if user is not None else _UNKNOWN_ACCOUNT_HASH, password)
    if user is None or not user.is_active or not matches:
        failure = CountedFailure("wrong login or password", field="password")
        # A number that is no account yet is the person's all the same: their erasure deletes these attempts.
        phone = login if user is None and is_mobile(login) else None
        for key, named in ((client_key, None), (pair_key, phone), (account, phone), (GLOBAL_KEY, None)):
            failure.keeping(session, partial(record_attempt, bucket="login", key=key, phone=named))
        raise failure
    return user


def is_sign_in_under_attack(session: Session, user: User, limits: LoginLimits) -> bool:
    """Tell whether failures against this account, or everywhere, are past their limits (a spray)."""
    return (
        count_recent_attempts(session, "login", f"user:{user.id}", limits.window) >= limits.per_account
        or count_recent_attempts(session, "login", GLOBAL_KEY, limits.window) >= limits.overall
    )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, lifetime: timedelta, kind: str = TokenKind.API) -> tuple[str, ApiToken]:
    """Create a token of `kind` for `user`; the plain token is returned once and never stored."""
    plain = "mp_" + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, kind=kind, token_hash=_hash_token(plain), expires_at=utcnow() + lifetime)
    session.add(record)
    session.flush()
    return plain, record


def find_user_by_token(session: Session, token: str, kind: str = TokenKind.API) -> User | None:
    """Return the active user behind a valid, unexpired, unrevoked token of `kind`."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None or record.kind != kind or record.revoked_at is not None or record.expires_at <= utcnow():
        return None
    user = session.get(User, record.user_id)
    return user if user is not None and user.is_active else None


def revoke_token(session: Session, token: str) -> bool:
    """Revoke a bearer token; tell whether it existed."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None:
        return False
    record.revoked_at = record.revoked_at or utcnow()
    session.flush()
    return True


def revoke_all_tokens(session: Session, user: User) -> int:
    """End every sign-in and bearer token of `user` (a password change); return how many were live."""
    result = session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return result.rowcount


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; every other sign-in and token of the user ends."""
    if not password_matches(user.password_hash, current):
        raise InvalidInput("the current password is wrong", field="current_password")
    user.password_hash = hash_password(new, phone=user.phone, email=user.email)
    revoke_all_tokens(session, user)
    session.flush()


def require_actor(actor: User | None) -> User:
    """Return the actor, or raise 401 when nobody is signed in."""
    if actor is None:
        raise NotAuthenticated("sign in or send a bearer token")
    return actor


def require_role(actor: User | None, *roles: str) -> User:
    """Return the actor when they have one of `roles` (401 when anonymous, 403 otherwise)."""
    actor = require_actor(actor)
    if not actor.has_role(*roles):
        # A fixed message so pages can translate it; the roles that may go on are a detail of the JSON body.
        raise Forbidden("your account's role may not do this", roles=list(roles))
    return actor


def is_oem(actor: User | None) -> bool:
    """Tell whether the actor is OEM staff, who may see the whole network."""
    return actor is not None and actor.role == Role.OEM_ADMIN


def require_member(actor: User | None, organization_id: int | None, *roles: str) -> User:
    """Allow OEM staff, or staff with one of `roles` belonging to `organization_id` (object-level check)."""
    actor = require_actor(actor)
    if is_oem(actor):
        return actor
    if organization_id is not None and actor.organization_id == organization_id and actor.has_role(*roles):
        return actor
    raise Forbidden("only staff of the organization concerned (or the OEM) may do this")
