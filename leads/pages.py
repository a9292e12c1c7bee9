"""Leads pages (phone-sized): a salesperson's pool and leads, one lead's page, the manager's assign page, the
funnel for managers and the OEM (SVG bars drawn on the server, CSV export), and a driver's one-tap opt-out."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from app.crm.customers import find_customer_for_user
from app.crm.models import Organization
from app.crm.notifications import preference_of
from app.db import utcnow
from app.errors import InvalidInput, MilepostError, NotFound
from app.phones import mask_phone
from app.security import Role, User, ensure_attempts_left, is_oem, record_attempt
from app.web.auth import page_actor
from app.web.context import client_address, db_session
from app.web.csrf import check_csrf
from app.web.navigation import NavLink
from app.web.transaction import discard_request_writes
from leads import ownership, sources, stages
from leads.funnel import PERIODS, compute_funnel, funnel_csv, held_per_person, total_of
from leads.models import OPEN_STAGES, STAGE_ORDER, Lead, LeadActivity, Stage, TeamRole
from leads.settings import leads_settings
from leads.team import LEAD_STAFF, find_member, get_lead_for, list_members, require_salesperson
from leads.web import current_settings
from network.links import BookingLink, register_shop_link

pages = Blueprint("leads", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/leads/static")  # fmt: skip

NAVIGATION: list[NavLink] = [
    NavLink("leads.my_leads", _l("Leads"), LEAD_STAFF),
    NavLink("leads.funnel", _l("Lead funnel"), LEAD_STAFF),
]
CAMPAIGN_BUCKET = "leads.campaign"
# Landings one address may leave per hour on campaign pages (a family or a depot shares an address; a script stops).
CAMPAIGN_PER_HOUR = 20
STAGE_LABELS = {
    Stage.NEW: _l("New"),
    Stage.QUALIFIED: _l("Qualified"),
    Stage.SALES: _l("Sales"),
    Stage.WON: _l("Won"),
    Stage.LOST: _l("Lost"),
}
CHANNEL_LABELS = {
    "scan": _l("Part scan"),
    "booking": _l("Booking"),
    "roadside": _l("Roadside help"),
    "service_request": _l("Service request"),
    "forum": _l("Community"),
    "shop_referral": _l("Shop referral"),
    "walk_in": _l("Dealer walk-in"),
    "import": _l("Import"),
    "campaign": _l("Campaign"),
    "maintenance": _l("Maintenance reminder"),
}
KIND_LABELS = {"call": _l("Call"), "message": _l("Message"), "visit": _l("Visit"), "touchpoint": _l("Came back")}
OUTCOME_LABELS = {
    "reached": _l("Reached"),
    "no_answer": _l("No answer"),
    "call_back": _l("Call back later"),
    "interested": _l("Interested"),
    "not_interested": _l("Not interested"),
}
LOST_LABELS = {
    "price": _l("Price"),
    "bought_elsewhere": _l("Bought elsewhere"),
    "no_need": _l("No need"),
    "unreachable": _l("Unreachable"),
    "duplicate": _l("Duplicate"),
    "other": _l("Other"),
}
INTEREST_LABELS = {
    "parts": _l("Parts"),
    "maintenance_plan": _l("Maintenance plan"),
    "extended_warranty": _l("Extended warranty"),
    "new_truck": _l("New truck"),
    "finance": _l("Finance"),
}
# What a consent may be about: the marketing topics and the kinds of touchpoint a lead came from.
TOPIC_LABELS = {
    **INTEREST_LABELS,
    "campaign": _l("Campaign"),
    "maintenance": _l("Maintenance"),
    "warranty": _l("Warranty"),
}
LABELS = {
    "stages": STAGE_LABELS,
    "topics": TOPIC_LABELS,
    "channels": CHANNEL_LABELS,
    "kinds": KIND_LABELS,
    "outcomes": OUTCOME_LABELS,
    "lost": LOST_LABELS,
    "interests": INTEREST_LABELS,
}


@pages.record_once
def _check_settings(state) -> None:
    """Stop the app at start-up on a bad leads setting (ConfigError names it), not at the first claim."""
    leads_settings(state.app.config)


@pages.app_context_processor
def _labels() -> dict:
    return {"leads_labels": LABELS}


@pages.app_template_filter("lead_time")
def lead_time(value: datetime | None) -> str:
    """Return a UTC timestamp as local date and minute."""
    return value.astimezone(current_settings().zone).strftime("%m-%d %H:%M") if value else ""


def _actor(*roles: str) -> User | WerkzeugResponse:
    return page_actor(*(roles or LEAD_STAFF))


@pages.route("/leads")
def my_leads():
    """Show the salesperson's own leads (what is due first) and their dealer's pool to claim from."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    member = find_member(session, actor.id)
    if member is None:
        return render_template("leads/not_on_team.html"), 403
    mine = session.scalars(
        select(Lead)
        .where(Lead.owner_id == actor.id, Lead.stage.in_(OPEN_STAGES))
        .order_by(Lead.first_follow_up_due_at.is_(None), Lead.first_follow_up_due_at, Lead.recycle_at)
    ).all()
    settings = current_settings()
    return render_template(
        "leads/mine.html",
        member=member,
        mine=mine,
        pool=ownership.list_pool(session, member),
        held=len(mine),
        cap=ownership.cap_of(member, settings),
        now=utcnow(),
        is_manager=member.role == TeamRole.MANAGER,
        mask=mask_phone,
    )


@pages.route("/leads/<int:lead_id>/claim", methods=["POST"])
def claim(lead_id: int):
    """Claim a lead from the pool, then show it."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    check_csrf()
    session = db_session()
    lead = get_lead_for(session, actor, lead_id)
    try:
        ownership.claim_lead(session, actor, lead, current_settings(), utcnow())
    except MilepostError as problem:
        discard_request_writes(problem)
        return _lead_page(session, actor, get_lead_for(session, actor, lead_id), problem)
    return redirect(url_for("leads.lead_page", lead_id=lead.id))


def _lead_page(session, actor: User, lead: Lead, error: MilepostError | None = None):
    activities = session.scalars(
        select(LeadActivity).where(LeadActivity.lead_id == lead.id).order_by(LeadActivity.at.desc()).limit(50)
    ).all()
    settings = current_settings()
    may_work = ownership.may_work(session, actor, lead)
    return render_template(
        "leads/lead.html",
        lead=lead,
        activities=activities,
        error=error,
        may_work=may_work,
        # The owner calls the number; everyone else sees it masked.
        phone=lead.phone if lead.owner_id == actor.id else mask_phone(lead.phone),
        lost_reasons=settings.lost_reasons,
        outcomes=stages.OUTCOMES,
        kinds=stages.FOLLOW_UP_KINDS,
        topics=sorted({lead.consent_topic, *stages.MARKETING_TOPICS} - {""}),
        now=utcnow(),
    ), (error.status if error else 200)


@pages.route("/leads/<int:lead_id>", methods=["GET", "POST"])
def lead_page(lead_id: int):
    """Show one lead; take a logged follow-up, a stage move (won, lost with a reason) or a return to the pool."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    lead = get_lead_for(session, actor, lead_id)
    if request.method == "POST":
        check_csrf()
        settings, now, form = current_settings(), utcnow(), request.form
        try:
            action = form.get("action", "")
            if action == "follow_up":
                stages.log_follow_up(
                    session, actor, lead, kind=form.get("kind", ""), outcome=form.get("outcome", ""),
                    body=form.get("body", "")[:1000], topic=form.get("topic", "")[:40], settings=settings, now=now,
                )  # fmt: skip
            elif action in ("won", "lost", "sales"):
                stages.move_stage(
                    session, actor, lead, action, settings, now, lost_reason=form.get("lost_reason") or None
                )
            elif action == "return":
                ownership.return_lead(session, actor, lead, form.get("reason", "")[:200], settings, now)
            else:
                raise InvalidInput("unknown action", field="action")
        except MilepostError as problem:
            discard_request_writes(problem)
            return _lead_page(session, actor, get_lead_for(session, actor, lead_id), problem)
        if lead.owner_id != actor.id and not ownership.may_work(session, actor, lead):
            return redirect(url_for("leads.my_leads"))
        return redirect(url_for("leads.lead_page", lead_id=lead.id))
    return _lead_page(session, actor, lead)


@pages.route("/leads/manage", methods=["GET", "POST"])
def manage():
    """Show a manager the pool and the team (held per person); assign a lead or release a leaver's leads."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    member = require_salesperson(session, actor)
    ownership.require_manager_of(session, actor, member.organization_id)
    error = None
    team = list_members(session, member.organization_id)
    if request.method == "POST":
        check_csrf()
        settings, now = current_settings(), utcnow()
        try:
            user = _team_user(team, request.form.get("user", ""))
            if request.form.get("action") == "release":
                ownership.release_all(session, actor, user, settings, now)
            else:
                lead = get_lead_for(session, actor, _number(request.form.get("lead", ""), "lead"))
                ownership.assign_lead(
                    session, actor, lead, user, settings, now,
                    force=request.form.get("force") == "1", note=request.form.get("note", "")[:200],
                )  # fmt: skip
            return redirect(url_for("leads.manage"))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
            team = list_members(session, member.organization_id)
    held = {entry.user_id: ownership.held_count(session, entry.user_id) for entry in team}
    return render_template(
        "leads/manage.html",
        pool=ownership.list_pool(session, member),
        team=team,
        held=held,
        settings=current_settings(),
        error=error,
        mask=mask_phone,
    ), (error.status if error else 200)


def _number(text: str, field_name: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) < 18):
        raise InvalidInput("pick one from the list", field=field_name)
    return int(text)


def _team_user(team, text: str) -> User:
    user_id = _number(text, "user")
    for entry in team:
        if entry.user_id == user_id:
            return entry.user
    raise NotFound("no such member of your team")


def _funnel_data(session, actor: User):
    settings = current_settings()
    scope = ownership.funnel_scope(session, actor)
    period = request.args.get("period", "month")
    if period not in PERIODS:
        raise InvalidInput("period is week or month", field="period")
    months_text = request.args.get("months", "6")
    months = _number(months_text, "months") if months_text else 6
    if not 1 <= months <= 24:
        raise InvalidInput("months is 1 to 24", field="months")
    split = request.args.get("by", "channel")
    if split not in ("channel", "region", "none"):
        raise InvalidInput("by is channel, region or none", field="by")
    today = utcnow().astimezone(settings.zone).date()
    until = datetime.combine(today + timedelta(days=1), time(), settings.zone)
    cohorts = compute_funnel(
        session, since=until - timedelta(days=31 * months), until=until, zone=settings.zone,
        first_follow_up=settings.first_follow_up, period=period, organization_id=scope,
        by_channel=split == "channel", by_region=split == "region",
    )  # fmt: skip
    return cohorts, scope, period, months, split


@pages.route("/leads/funnel")
def funnel():
    """Show the funnel by cohort (week or month) split by channel or region, with bars and the figures."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    cohorts, scope, period, months, split = _funnel_data(session, actor)
    total = total_of(cohorts)
    return render_template(
        "leads/funnel.html",
        cohorts=cohorts,
        total=total,
        stages=[stage.value for stage in STAGE_ORDER],
        timed_stages=[stage.value for stage in OPEN_STAGES],
        period=period,
        months=months,
        split=split,
        held=held_per_person(session, scope),
        widest=max(total.size, 1),
    )


@pages.route("/leads/funnel.csv")
def funnel_export():
    """Download the funnel's cohorts as CSV."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    cohorts = _funnel_data(db_session(), actor)[0]
    return Response(
        funnel_csv(cohorts),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=lead-funnel.csv"},
    )


@pages.route("/leads/marketing", methods=["GET", "POST"])
def marketing():
    """Show a driver whether dealers may send offers; one tap stops them."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    customer = find_customer_for_user(session, actor)
    done = False
    if request.method == "POST":
        check_csrf()
        if customer is None:
            raise NotFound("your account has no customer record")
        stages.opt_out(session, actor, customer, utcnow())
        done = True
    return render_template("leads/marketing.html", preference=preference_of(session, actor.id), done=done)


def _source_form(template: str, done: bool = False, error: MilepostError | None = None, **context):
    page = render_template(
        template, interests=list(INTEREST_LABELS), form=request.form, done=done, error=error, **context
    )
    return page, (error.status if error else 200)


@pages.route("/leads/refer", methods=["GET", "POST"])
def refer():
    """Let a shop refer a driver (who agreed) and their truck to a dealer."""
    actor = page_actor(Role.SHOP_STAFF)
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    dealers = sources.list_dealers(session)
    if request.method == "POST":
        check_csrf()
        form = request.form
        try:
            sources.refer_to_dealer(
                session, actor, form.get("dealer", "")[:40], form.get("phone", "")[:30], form.get("vin", "")[:30],
                form.get("interest", ""), form.get("agreed") == "1", utcnow(),
            )  # fmt: skip
        except MilepostError as problem:
            discard_request_writes(problem)
            return _source_form("leads/refer.html", error=problem, dealers=dealers)
        return redirect(url_for("leads.refer", done=1))
    return _source_form("leads/refer.html", done=request.args.get("done") == "1", dealers=dealers)


@pages.route("/leads/walk-in", methods=["GET", "POST"])
def walk_in():
    """Let a dealer record a visitor: phone, the truck's VIN if they gave it, what they came for."""
    actor = page_actor(Role.DEALER_STAFF)
    if isinstance(actor, WerkzeugResponse):
        return actor
    if request.method == "POST":
        check_csrf()
        form = request.form
        version = sources.WALK_IN_CONSENT_VERSION if form.get("offers") == "1" else None
        try:
            sources.record_walk_in(
                db_session(), actor, form.get("phone", "")[:30], form.get("vin", "")[:30], form.get("interest", ""),
                utcnow(), marketing_version=version,
            )  # fmt: skip
        except MilepostError as problem:
            discard_request_writes(problem)
            return _source_form("leads/walk_in.html", error=problem)
        return redirect(url_for("leads.walk_in", done=1))
    return _source_form("leads/walk_in.html", done=request.args.get("done") == "1")


def _campaign_scope(session, actor: User) -> int | None:
    """Return the dealer whose campaigns the actor manages (None: the OEM, who sees every dealer's)."""
    if is_oem(actor):
        return None
    member = require_salesperson(session, actor)
    ownership.require_manager_of(session, actor, member.organization_id)
    return member.organization_id


@pages.route("/leads/campaigns", methods=["GET", "POST"])
def campaigns():
    """List a dealer's campaigns with their landings; open one, or end a running one (its page is gone)."""
    actor = _actor()
    if isinstance(actor, WerkzeugResponse):
        return actor
    session = db_session()
    scope = _campaign_scope(session, actor)
    error = None
    if request.method == "POST":
        check_csrf()
        form = request.form
        try:
            if form.get("action") == "end":
                sources.end_campaign(session, actor, form.get("code", "")[:40], utcnow())
            elif scope is None:
                raise InvalidInput("the OEM opens a dealer's campaign through the API, naming the dealer", field="code")
            else:
                sources.create_campaign(
                    session, actor, session.get(Organization, scope), form.get("code", "").strip()[:40],
                    form.get("title_zh", "")[:120], form.get("title_en", "")[:120], form.get("interest", ""),
                    form.get("consent_text_version", "").strip()[:40],
                )  # fmt: skip
            return redirect(url_for("leads.campaigns"))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    return render_template(
        "leads/campaigns.html", campaigns=sources.list_campaigns(session, actor, scope), may_open=scope is not None,
        interests=list(INTEREST_LABELS), form=request.form if error else {}, error=error,
    ), (error.status if error else 200)  # fmt: skip


@pages.route("/c/<code>", methods=["GET", "POST"])
def campaign(code: str):
    """Show a campaign's public page; only the visitor's explicit POST with the box ticked records them."""
    session = db_session()
    found = sources.get_active_campaign(session, code[:40])
    if request.method == "POST":
        check_csrf()
        form = request.form
        try:
            # Counted before the write, so a script filling the form with numbers is stopped at the limit.
            ensure_attempts_left(session, CAMPAIGN_BUCKET, [client_address()], CAMPAIGN_PER_HOUR, timedelta(hours=1))
            record_attempt(session, CAMPAIGN_BUCKET, client_address())
            sources.land_on_campaign(
                session, found, form.get("phone", "")[:30], form.get("vin", "")[:30], form.get("agreed") == "1",
                utcnow(),
            )  # fmt: skip
        except MilepostError as problem:
            discard_request_writes(problem)
            return _source_form("leads/campaign.html", error=problem, campaign=found)
        return redirect(url_for("leads.campaign", code=found.code, done=1))
    return _source_form("leads/campaign.html", done=request.args.get("done") == "1", campaign=found)


def _referral_link(shop, actor) -> BookingLink | None:
    """The link from a shop's console to the referral form (for its own staff only)."""
    if actor is None or actor.role != Role.SHOP_STAFF or actor.organization_id != shop.organization_id:
        return None
    return BookingLink(_("Refer a driver to a dealer"), url_for("leads.refer"), "referral-link")


register_shop_link("leads.refer", _referral_link)
