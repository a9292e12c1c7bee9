"""Users, roles, password hashing, API tokens, attempt limits and the permission checks every endpoint uses."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import Base, utcnow
from app.errors import CountedFailure, Forbidden, InvalidInput, NotAuthenticated, RateLimited

MIN_PASSWORD_LENGTH = 8
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


class ApiToken(Base):
    """A bearer token for programs; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Attempt(Base):
    """One failed attempt at a secret (a login, an activation code), counted by bucket and key."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_bucket_key_at", "bucket", "key", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


def hash_password(password: str) -> str:
    """Hash a password with a slow, salted hash."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
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
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(Role)}", field="role")
    if not email and not phone:
        raise InvalidInput("an email or a phone number is required", field="email")
    if role != Role.DRIVER and organization_id is None:
        raise InvalidInput(f"a {role} user must belong to an organization", field="org")
    if email:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise InvalidInput("email is not an email address", field="email")
        if session.scalar(select(User.id).where(User.email == email)):
            raise InvalidInput("a user with this email exists", field="email")
    if phone and session.scalar(select(User.id).where(User.phone == phone)):
        raise InvalidInput("a user with this phone number exists", field="phone")
    user = User(
        email=email or None,
        phone=phone or None,
        password_hash=hash_password(password),
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


def record_attempt(session: Session, bucket: str, key: str) -> None:
    """Record one failed attempt."""
    session.add(Attempt(bucket=bucket, key=key))
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


def _normalize_login(login: str) -> str:
    login = login.strip().lower()
    if "@" in login:
        return login
    digits = "".join(char for char in login if char.isdigit())
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def authenticate(
    session: Session,
    login: str,
    password: str,
    client: str,
    limit: int,
    window: timedelta,
    client_limit: int | None = None,
) -> User:
    """Return the active user whose email or phone is `login` and whose password matches.

    Failures are recorded per account (`limit`) and per client address (`client_limit`, default `limit`);
    past either within `window` the answer is 429, whether or not the password is right, so guessing stops.
    """
    login = _normalize_login(login)
    user = session.scalar(select(User).where((User.email == login) | (User.phone == login)))
    client_key = f"client:{client}"
    keys = [client_key] + ([f"user:{user.id}"] if user else [])
    ensure_attempts_left(session, "login", keys, limit, window, {client_key: client_limit or limit})
    if user is None or not user.is_active or not check_password_hash(user.password_hash, password):
        failure = CountedFailure("wrong login or password", field="password")
        for key in keys:
            failure.keeping(session, partial(record_attempt, bucket="login", key=key))
        raise failure
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, lifetime: timedelta) -> tuple[str, ApiToken]:
    """Create a bearer token for `user`; the plain token is returned once and never stored."""
    plain = "mp_" + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, token_hash=_hash_token(plain), expires_at=utcnow() + lifetime)
    session.add(record)
    session.flush()
    return plain, record


def find_user_by_token(session: Session, token: str) -> User | None:
    """Return the active user behind a valid, unexpired, unrevoked bearer token."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if record is None or record.revoked_at is not None or record.expires_at <= utcnow():
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
