"""Touchpoints the leads domain collects itself: a shop refers a driver to a dealer, a dealer records a walk-in,
a visitor answers a campaign page. Each is written into the core (app.crm.touchpoints) like every other domain's,
so the intake turns them into leads the same way (deduplicated by phone, then VIN)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.identifiers import normalize_vin
from app.crm.models import ConsentBasis, Customer, Organization, OrganizationKind, Touchpoint, Vehicle
from app.crm.touchpoints import Channel, record_touchpoint
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.phones import normalize_phone
from app.security import Role, User, is_oem, require_role
from leads.models import Interest, LeadCampaign
from leads.team import is_manager_of

# The version of the offers opt-in a dealer's walk-in form shows (kept with each opted-in touchpoint as its proof).
WALK_IN_CONSENT_VERSION = "walk-in-offers-v1"
CAMPAIGN_CODE = re.compile(r"^[A-Za-z0-9-]{3,40}$")
INTERESTS = frozenset(Interest)
# The intake reads a touchpoint's kind as the interest (leads.intake.INTEREST_BY_KIND).
KIND_OF_INTEREST = {
    Interest.PARTS: "parts",
    Interest.MAINTENANCE_PLAN: "maintenance",
    Interest.EXTENDED_WARRANTY: "warranty",
    Interest.NEW_TRUCK: "new_truck",
    Interest.FINANCE: "finance",
}


def _interest(value: str) -> str:
    if value not in INTERESTS:
        raise InvalidInput("interest is one of %(choices)s", field="interest", choices=", ".join(sorted(INTERESTS)))
    return value


def _person(session: Session, phone: str, vin: str | None) -> tuple[str, Customer | None, Vehicle | None, str | None]:
    """Return the normalized phone, the known customer and truck, and the VIN as given (a stranger's truck too)."""
    phone = normalize_phone(phone)
    vin = normalize_vin(vin) if vin else None
    customer = session.scalar(select(Customer).where(Customer.phone == phone))
    vehicle = session.scalar(select(Vehicle).where(Vehicle.vin == vin)) if vin else None
    return phone, customer, vehicle, vin


def _write(
    session: Session, channel: str, interest: str, source: tuple[str, object], phone: str, vin: str | None,
    place: Organization, summary: str, now: datetime, *, marketing_version: str | None = None,
) -> Touchpoint:  # fmt: skip
    phone, customer, vehicle, vin = _person(session, phone, vin)
    touchpoint = record_touchpoint(
        session, channel=channel, kind=KIND_OF_INTEREST[_interest(interest)], source_type=source[0],
        source_id=source[1], phone=phone, customer=customer, vehicle=vehicle, vin=vin,
        # The dealer the person agreed to hear from takes the lead in its pool (leads.team.pool_for_touchpoint).
        province=place.province, city=place.city, summary=summary,
        consent_basis=ConsentBasis.MARKETING if marketing_version else ConsentBasis.SERVICE,
        consent_text_version=marketing_version, occurred_at=now, organization=place,
    )  # fmt: skip
    if touchpoint is None:  # never: the phone was checked above
        raise InvalidInput("a phone number is needed", field="phone")
    return touchpoint


def refer_to_dealer(
    session: Session, actor: User, dealer_code: str, phone: str, vin: str | None, interest: str,
    agreed: bool, now: datetime,
) -> Touchpoint:  # fmt: skip
    """A shop refers a driver (who agreed to be called) and their truck to a dealer."""
    require_role(actor, Role.SHOP_STAFF)
    shop = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if shop is None:
        raise Forbidden("only a shop's staff refer drivers")
    dealer = session.scalar(
        select(Organization).where(Organization.code == dealer_code, Organization.kind == OrganizationKind.DEALER)
    )
    if dealer is None:
        raise NotFound("no dealer %(dealer)s", field="dealer", dealer=str(dealer_code)[:40])
    if not agreed:
        raise InvalidInput("the driver must agree that the dealer calls them", field="agreed")
    touchpoint = _write(
        session, Channel.SHOP_REFERRAL, interest, ("organization", shop.code), phone, vin, dealer,
        f"referred by {shop.name} to {dealer.name}"[:200], now,
    )  # fmt: skip
    record_activity(
        session, actor, "leads.referred", "touchpoint", touchpoint.id, organization_id=shop.id, dealer=dealer.code
    )
    return touchpoint


def record_walk_in(
    session: Session, actor: User, phone: str, vin: str | None, interest: str, now: datetime,
    marketing_version: str | None = None,
) -> Touchpoint:  # fmt: skip
    """A dealer records a visitor (phone, optionally the truck's VIN); an offer opt-in needs its text's version."""
    require_role(actor, Role.DEALER_STAFF)
    dealer = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if dealer is None or dealer.kind != OrganizationKind.DEALER:
        raise Forbidden("only a dealer's staff record walk-ins")
    touchpoint = _write(
        session, Channel.WALK_IN, interest, ("organization", dealer.code), phone, vin, dealer,
        f"walked in at {dealer.name}"[:200], now, marketing_version=marketing_version,
    )  # fmt: skip
    record_activity(session, actor, "leads.walk_in", "touchpoint", touchpoint.id, organization_id=dealer.id)
    return touchpoint


def create_campaign(
    session: Session, actor: User, organization: Organization, code: str, title_zh: str, title_en: str,
    interest: str, consent_text_version: str,
) -> LeadCampaign:  # fmt: skip
    """Open a campaign page for a dealer (its lead managers or the OEM do this)."""
    if not is_manager_of(session, actor, organization.id) and not is_oem(actor):
        raise Forbidden("only the dealer's lead managers or the OEM open campaigns")
    if not CAMPAIGN_CODE.match(code or ""):
        raise InvalidInput("a campaign code is 3-40 letters, digits or dashes", field="code")
    for field, title in (("title_zh", title_zh), ("title_en", title_en)):
        if not (title or "").strip() or len(title) > 120:
            raise InvalidInput("a campaign needs a title in Chinese and English (at most 120)", field=field)
    if not consent_text_version or len(consent_text_version) > 40:
        raise InvalidInput("name the consent text's version the page shows", field="consent_text_version")
    if session.scalar(select(LeadCampaign.id).where(LeadCampaign.code == code)) is not None:
        raise InvalidInput("campaign code %(code)s is taken", field="code", code=code)
    campaign = LeadCampaign(
        code=code, organization_id=organization.id, title_zh=title_zh.strip(), title_en=title_en.strip(),
        interest=_interest(interest), consent_text_version=consent_text_version, created_by_id=actor.id,
    )  # fmt: skip
    session.add(campaign)
    session.flush()
    record_activity(session, actor, "leads.campaign_created", "campaign", code, organization_id=organization.id)
    return campaign


def list_dealers(session: Session, limit: int = 500) -> list[Organization]:
    """Return the dealers a shop may refer drivers to, by province and name."""
    statement = select(Organization).where(Organization.kind == OrganizationKind.DEALER)
    return list(session.scalars(statement.order_by(Organization.province, Organization.name).limit(limit)))


def get_active_campaign(session: Session, code: str) -> LeadCampaign:
    """Return the running campaign with `code`, or 404 (an ended one is gone for visitors)."""
    campaign = session.scalar(select(LeadCampaign).where(LeadCampaign.code == code, LeadCampaign.active.is_(True)))
    if campaign is None:
        raise NotFound("no campaign %(code)s", field="code", code=str(code)[:40])
    return campaign


def land_on_campaign(
    session: Session, campaign: LeadCampaign, phone: str, vin: str | None, agreed: bool, now: datetime
) -> Touchpoint:
    """A visitor leaves their phone on a campaign page, having ticked the consent the page shows."""
    if not agreed:
        raise InvalidInput("tick the box to agree to be contacted", field="agreed")
    return _write(
        session, Channel.CAMPAIGN, campaign.interest, ("campaign", campaign.code), phone, vin,
        campaign.organization, f"answered campaign {campaign.code}"[:200], now,
        marketing_version=campaign.consent_text_version,
    )  # fmt: skip


def list_campaigns(session: Session, actor: User, organization_id: int | None) -> list[tuple[LeadCampaign, int]]:
    """Return the campaigns of a dealer (its lead managers), or every one (the OEM, `organization_id` None), the
    running ones first, each with how many visitors left their phone on its page."""
    if organization_id is None:
        if not is_oem(actor):
            raise Forbidden("only the dealer's lead managers or the OEM see campaigns")
    elif not is_manager_of(session, actor, organization_id):
        raise Forbidden("only the dealer's lead managers or the OEM see campaigns")
    landings = (
        select(func.count())
        .select_from(Touchpoint)
        .where(Touchpoint.source_type == "campaign", Touchpoint.source_id == LeadCampaign.code)
        .correlate(LeadCampaign)
        .scalar_subquery()
    )
    statement = select(LeadCampaign, landings)
    if organization_id is not None:
        statement = statement.where(LeadCampaign.organization_id == organization_id)
    statement = statement.order_by(LeadCampaign.active.desc(), LeadCampaign.created_at.desc(), LeadCampaign.id.desc())
    return [(campaign, count) for campaign, count in session.execute(statement.limit(200)).all()]


def end_campaign(session: Session, actor: User, code: str, now: datetime) -> LeadCampaign:
    """End a running campaign: its page is gone for visitors, the landings and their leads stay."""
    campaign = session.scalar(select(LeadCampaign).where(LeadCampaign.code == str(code)[:40]))
    if campaign is None or not is_manager_of(session, actor, campaign.organization_id):
        raise NotFound("no campaign %(code)s", field="code", code=str(code)[:40])  # another dealer's stays unknown
    ended = session.execute(
        update(LeadCampaign)
        .where(LeadCampaign.id == campaign.id, LeadCampaign.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:
        raise Conflict("campaign %(code)s has already ended", field="code", code=campaign.code)
    session.expire(campaign, ["active"])
    record_activity(
        session, actor, "leads.campaign_ended", "campaign", campaign.code, organization_id=campaign.organization_id,
        ended_at=now.isoformat(),
    )  # fmt: skip
    return campaign
