"""Leads JSON API: a salesperson's leads and pool, claim, follow-ups, stage moves, and the funnel."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from pydantic import Field
from sqlalchemy import select

from app.crm.models import Organization
from app.crm.organizations import get_organization
from app.db import utcnow
from app.errors import InvalidInput
from app.security import Role, is_oem
from app.web.context import db_session
from app.web.endpoints import ApiBlueprint, QuerySchema, Schema
from leads import ownership, sources, stages
from leads.funnel import compute_funnel
from leads.models import OPEN_STAGES, Lead
from leads.team import LEAD_STAFF, get_lead_for, require_salesperson
from leads.web import current_settings, lead_to_dict

api = ApiBlueprint("leads_api", __name__, tag="Leads")


class FollowUpIn(Schema):
    kind: str = Field("call", pattern="^(call|message|visit)$")
    outcome: str = Field(max_length=40, description="reached, no_answer, call_back, interested, not_interested")
    body: str = Field("", max_length=1000)
    topic: str = Field("", max_length=40, description="what was offered; a service-basis lead allows its service only")


class StageIn(Schema):
    stage: str = Field(pattern="^(sales|won|lost)$")
    lost_reason: str | None = Field(None, max_length=40)
    note: str = Field("", max_length=200)


class FunnelQuery(QuerySchema):
    months: int = Field(6, ge=1, le=24)
    period: str = Field("month", pattern="^(week|month)$")


@api.endpoint("GET", "/leads/mine", access=LEAD_STAFF, summary="List my leads and my dealer's pool")
def list_leads(actor):
    session = db_session()
    member = require_salesperson(session, actor)
    mine = session.scalars(
        select(Lead).where(Lead.owner_id == actor.id, Lead.stage.in_(OPEN_STAGES)).order_by(Lead.created_at)
    ).all()
    pool = ownership.list_pool(session, member)
    return {"mine": [lead_to_dict(lead) for lead in mine], "pool": [lead_to_dict(lead) for lead in pool]}


@api.endpoint("POST", "/leads/<int:lead_id>/claim", access=LEAD_STAFF, summary="Claim a lead from the pool")
def claim(actor, lead_id: int):
    session = db_session()
    lead = get_lead_for(session, actor, lead_id)
    ownership.claim_lead(session, actor, lead, current_settings(), utcnow())
    return lead_to_dict(lead)


@api.endpoint(
    "POST", "/leads/<int:lead_id>/follow-ups", access=LEAD_STAFF, summary="Log a follow-up", body=FollowUpIn,
    status=201,
)  # fmt: skip
def follow_up(actor, lead_id: int, body: FollowUpIn):
    session = db_session()
    lead = get_lead_for(session, actor, lead_id)
    stages.log_follow_up(
        session, actor, lead, kind=body.kind, outcome=body.outcome, body=body.body, topic=body.topic,
        settings=current_settings(), now=utcnow(),
    )  # fmt: skip
    return lead_to_dict(lead), 201


@api.endpoint("POST", "/leads/<int:lead_id>/stage", access=LEAD_STAFF, summary="Move a lead's stage", body=StageIn)
def move(actor, lead_id: int, body: StageIn):
    session = db_session()
    lead = get_lead_for(session, actor, lead_id)
    stages.move_stage(
        session, actor, lead, body.stage, current_settings(), utcnow(), lost_reason=body.lost_reason, note=body.note
    )
    return lead_to_dict(lead)


@api.endpoint("GET", "/leads/funnel", access=LEAD_STAFF, summary="Read the funnel by cohort", query=FunnelQuery)
def funnel(actor, query: FunnelQuery):
    session = db_session()
    settings = current_settings()
    scope = ownership.funnel_scope(session, actor)
    today = utcnow().astimezone(settings.zone).date()
    until = datetime.combine(today + timedelta(days=1), time(), settings.zone)
    cohorts = compute_funnel(
        session, since=until - timedelta(days=31 * query.months), until=until, zone=settings.zone,
        first_follow_up=settings.first_follow_up, period=query.period, organization_id=scope,
    )  # fmt: skip
    return {
        "cohorts": [
            {
                "period": c.period, "channel": c.channel, "province": c.province, "size": c.size,
                "reached": c.reached, "recycled_share": c.recycled_share, "first_follow_up_sla": c.sla_share,
                "lost_reasons": dict(c.lost_reasons),
            }
            for c in cohorts
        ]
    }  # fmt: skip


class PersonIn(Schema):
    phone: str = Field(min_length=1, max_length=30, description="the person's mobile number")
    vin: str | None = Field(None, max_length=30, description="their truck's VIN, when they gave it")
    interest: str = Field("parts", max_length=30, description="parts, maintenance_plan, extended_warranty, ...")


class ReferralIn(PersonIn):
    dealer: str = Field(min_length=1, max_length=40, description="the dealer's organization code")
    agreed: bool = Field(description="the driver agreed that the dealer calls them")


class WalkInIn(PersonIn):
    marketing_consent_text_version: str | None = Field(
        None, max_length=40, description="the offers opt-in text the visitor agreed to, if they did"
    )


class CampaignIn(Schema):
    code: str = Field(min_length=3, max_length=40, description="the page's address: /c/<code>")
    organization: str | None = Field(None, max_length=40, description="the dealer's code (OEM only; default: yours)")
    title_zh: str = Field(min_length=1, max_length=120)
    title_en: str = Field(min_length=1, max_length=120)
    interest: str = Field("extended_warranty", max_length=30)
    consent_text_version: str = Field(min_length=1, max_length=40)


def _touchpoint_to_dict(touchpoint) -> dict:
    return {"id": touchpoint.id, "channel": touchpoint.channel, "kind": touchpoint.kind,
            "province": touchpoint.province, "consent_basis": touchpoint.consent_basis}  # fmt: skip


@api.endpoint(
    "POST", "/leads/referrals", access=[Role.SHOP_STAFF], body=ReferralIn, status=201,
    summary="Refer a driver and their truck to a dealer (a touchpoint for the dealer's pool)",
)  # fmt: skip
def refer(actor, body: ReferralIn):
    touchpoint = sources.refer_to_dealer(
        db_session(), actor, body.dealer, body.phone, body.vin, body.interest, body.agreed, utcnow()
    )
    return _touchpoint_to_dict(touchpoint), 201


@api.endpoint(
    "POST", "/leads/walk-ins", access=[Role.DEALER_STAFF], body=WalkInIn, status=201,
    summary="Record a visitor at the dealer (a touchpoint for its pool)",
)  # fmt: skip
def walk_in(actor, body: WalkInIn):
    touchpoint = sources.record_walk_in(
        db_session(), actor, body.phone, body.vin, body.interest, utcnow(),
        marketing_version=body.marketing_consent_text_version,
    )  # fmt: skip
    return _touchpoint_to_dict(touchpoint), 201


@api.endpoint(
    "POST", "/leads/campaigns", access=LEAD_STAFF, body=CampaignIn, status=201,
    summary="Open a campaign page /c/<code> (the dealer's lead managers or the OEM)",
)  # fmt: skip
def open_campaign(actor, body: CampaignIn):
    session = db_session()
    organization = (
        get_organization(session, body.organization, field="organization") if body.organization and is_oem(actor)
        else session.get(Organization, actor.organization_id) if actor.organization_id else None
    )  # fmt: skip
    if organization is None:
        raise InvalidInput("name the dealer the campaign is for", field="organization")
    campaign = sources.create_campaign(
        session, actor, organization, body.code, body.title_zh, body.title_en, body.interest,
        body.consent_text_version,
    )  # fmt: skip
    return {"code": campaign.code, "url": f"/c/{campaign.code}", "active": campaign.active}, 201


def _campaign_to_dict(campaign, landings: int | None = None) -> dict:
    found = {
        "code": campaign.code, "url": f"/c/{campaign.code}", "active": campaign.active,
        "organization": campaign.organization.code, "title_zh": campaign.title_zh, "title_en": campaign.title_en,
        "interest": campaign.interest, "consent_text_version": campaign.consent_text_version,
    }  # fmt: skip
    if landings is not None:
        found["landings"] = landings
    return found


@api.endpoint(
    "GET", "/leads/campaigns", access=LEAD_STAFF,
    summary="List the dealer's campaigns with their landings (its lead managers; the OEM sees every dealer's)",
)  # fmt: skip
def list_campaigns(actor):
    session = db_session()
    scope = None if is_oem(actor) else require_salesperson(session, actor).organization_id
    found = sources.list_campaigns(session, actor, scope)
    return {"campaigns": [_campaign_to_dict(campaign, landings) for campaign, landings in found]}


@api.endpoint(
    "POST", "/leads/campaigns/<code>/end", access=LEAD_STAFF,
    summary="End a running campaign: its page is gone for visitors, its landings and leads stay",
)  # fmt: skip
def end_campaign(actor, code: str):
    return _campaign_to_dict(sources.end_campaign(db_session(), actor, code, utcnow()))
