"""Who may post, whose posts wait for review (先审后发), and the province shown beside a post (IP属地)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crm.models import Customer, Organization, Vehicle
from app.crm.regions import find_province
from app.errors import Forbidden
from app.security import Role, User, is_oem, require_actor
from community.models import Answer, PostStatus, Question
from community.settings import CommunitySettings

# A post hidden by a moderator this recently puts its author back under review.
VIOLATION_WINDOW = timedelta(days=90)


def has_proven_phone(session: Session, actor: User) -> bool:
    """Tell whether a driver's phone was proven: the account holds the customer record of its own number.

    Only app.crm.customers.register_driver links a driver account to a customer record, and it needs a
    PhoneProof: the code texted to that number, or the operator's word on the command line.
    """
    if not actor.phone:
        return False
    linked = select(Customer.id).where(Customer.user_id == actor.id, Customer.phone == actor.phone)
    return session.scalar(linked) is not None


def ensure_may_post(session: Session, actor: User | None) -> User:
    """Return the actor when they may post: staff (their organization files who they are) or a proven phone."""
    actor = require_actor(actor)
    if not actor.is_active:
        raise Forbidden("this account is blocked")
    if actor.role == Role.DRIVER and not has_proven_phone(session, actor):
        raise Forbidden("posting needs a verified phone number; sign up with the code we text you", field="phone")
    return actor


def _count_posts(session: Session, author_id: int, conditions: Callable[[type], list]) -> int:
    total = 0
    for model in (Question, Answer):
        statement = select(func.count()).select_from(model).where(model.author_id == author_id, *conditions(model))
        total += session.scalar(statement) or 0
    return total


def needs_review(session: Session, actor: User, settings: CommunitySettings, now: datetime) -> bool:
    """Tell whether the actor's posts wait for a moderator: a new account, few published posts, a recent violation."""
    if is_oem(actor):
        return False
    if settings.new_account_days and actor.created_at > now - timedelta(days=settings.new_account_days):
        return True
    published = _count_posts(session, actor.id, lambda model: [model.status == PostStatus.PUBLISHED])
    if published < settings.trusted_posts:
        return True
    since = now - VIOLATION_WINDOW
    hidden = _count_posts(
        session, actor.id, lambda model: [model.status == PostStatus.HIDDEN, model.created_at >= since]
    )
    return hidden > 0


def poster_province(session: Session, actor: User, client: str | None, settings: CommunitySettings) -> str | None:
    """Return the province shown beside the actor's post: from the IP table, else the truck's or organization's."""
    found = _raw_province(session, actor, client, settings)
    province = find_province(found)
    return province.name if province is not None else found


def _raw_province(session: Session, actor: User, client: str | None, settings: CommunitySettings) -> str | None:
    if client and settings.ip_provinces:
        try:
            address = ipaddress.ip_address(client)
        except ValueError:
            address = None
        for network, province in settings.ip_provinces:
            if address is not None and address.version == network.version and address in network:
                return province
    if actor.organization_id is not None:
        return session.scalar(select(Organization.province).where(Organization.id == actor.organization_id))
    truck_province = (
        select(Vehicle.province)
        .join(Customer, Customer.id == Vehicle.owner_id)
        .where(Customer.user_id == actor.id, Vehicle.province.is_not(None))
        .order_by(Vehicle.id)
        .limit(1)
    )
    return session.scalar(truck_province)
