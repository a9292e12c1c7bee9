"""Leads demo data: dealer territories and sales teams, the demo's own touchpoints (scans, bookings, roadside,
service requests) plus six months of walk-ins and campaign replies, played through the domain's functions on a
simulated clock, so that the funnel has history and the pools hold leads that are overdue, recycled, reactivated."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.models import Customer, Organization, OrganizationKind, Touchpoint, Vehicle
from app.crm.touchpoints import Channel, mark_processed, record_touchpoint
from app.db import due_checkpoint_of, utcnow
from app.errors import MilepostError
from app.security import Role, User, create_user
from leads.intake import take_in
from leads.models import Lead, LeadPool, Stage, TeamRole
from leads.ownership import claim_lead, return_lead
from leads.rules import recycle_due
from leads.settings import LeadsSettings, leads_settings
from leads.stages import dispatch_due, log_follow_up, move_stage
from leads.team import add_member, create_dealer_pool, ensure_oem_pool

DEMO_PASSWORD = "milepost-demo"
DEALER_MANAGER = "dealer@milepost.demo"
SALES = (
    ("sales1@milepost.demo", "销售 刘强"),
    ("sales2@milepost.demo", "销售 孙丽"),
    ("sales3@milepost.demo", "销售 马超"),
)
# Provinces of the demo dealer's territory beside its own (the expressway corridor the demo's shops line).
TERRITORY = ("Henan", "Hebei", "Hubei", "Shandong", "Shanxi", "Shaanxi", "Anhui", "Jiangsu", "Beijing", "Tianjin")
HISTORY_DAYS = 180
# What each kind of past contact says in the lead's history (the demo writes it as a person would).
DEMO_SUMMARIES = {
    Channel.WALK_IN: "到店咨询（演示）",
    Channel.CAMPAIGN: "回复营销活动（演示）",
    Channel.SHOP_REFERRAL: "服务站推荐（演示）",
    Channel.SCAN: "扫码查验配件（演示）",
}


class Clock:
    """A queue of things to do at simulated times, run in order."""

    def __init__(self) -> None:
        self.queue: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self.counter = itertools.count()

    def at(self, moment: datetime, action: Callable[[datetime], None]) -> None:
        heapq.heappush(self.queue, (moment, next(self.counter), action))

    def run_until(self, end: datetime, due: Callable[[], None]) -> None:
        """Run what is due up to `end`; `due` after each action (where the worker's build commits as it goes)."""
        while self.queue and self.queue[0][0] <= end:
            moment, _number, action = heapq.heappop(self.queue)
            action(moment)
            due()


def seed_logins(session: Session) -> list[str]:
    """Create the salespeople's accounts at the demo dealer (the first phase of `milepost serve --demo`, so that
    they can sign in while the worker builds the leads); return the login line."""
    manager = session.scalar(select(User).where(User.email == DEALER_MANAGER))
    if manager is None:
        return []
    for email, name in SALES:
        if session.scalar(select(User.id).where(User.email == email)) is None:
            create_user(
                session, role=Role.DEALER_STAFF, email=email, password=DEMO_PASSWORD,
                organization_id=manager.organization_id, display_name=name,
            )  # fmt: skip
    return [
        f"Dealer salespeople   {', '.join(email for email, _name in SALES)} / {DEMO_PASSWORD} "
        f"(manager {DEALER_MANAGER})"
    ]


def _team(session: Session, oem_admin: User, dealer: Organization) -> list[User]:
    manager = session.scalar(select(User).where(User.email == DEALER_MANAGER))
    if manager is None:
        manager = create_user(
            session, role=Role.DEALER_STAFF, email=DEALER_MANAGER, password=DEMO_PASSWORD,
            organization_id=dealer.id, display_name="经理 王芳",
        )  # fmt: skip
    seed_logins(session)
    add_member(session, oem_admin, manager, TeamRole.MANAGER)
    people = []
    for email, _name in SALES:
        user = session.scalars(select(User).where(User.email == email)).one()
        add_member(session, manager, user)
        people.append(user)
    return people


def _extra_touchpoints(
    session: Session, rng: random.Random, start: datetime, count: int, due: Callable[[], None]
) -> None:
    """Walk-ins, campaign replies and shop referrals over the months before the demo's own activity."""
    # Mostly people the demo's own bookings and scans do not know yet, so every channel starts leads.
    known = set(session.scalars(select(Touchpoint.phone).distinct()))
    vehicles = [
        v for v in session.scalars(select(Vehicle).order_by(Vehicle.id).limit(1500)) if v.owner.phone not in known
    ]
    vehicles = vehicles[:400] or list(session.scalars(select(Vehicle).order_by(Vehicle.id).limit(400)))
    for number in range(count):
        vehicle = rng.choice(vehicles)
        channel = rng.choice([Channel.WALK_IN, Channel.CAMPAIGN, Channel.SHOP_REFERRAL, Channel.SCAN])
        marketing = channel == Channel.CAMPAIGN
        moment = start + timedelta(minutes=rng.randrange(HISTORY_DAYS * 24 * 60))
        record_touchpoint(
            session, channel=channel, kind=rng.choice(["parts", "maintenance", "warranty"]), source_type="demo",
            source_id=number, customer=vehicle.owner, vehicle=vehicle, summary=DEMO_SUMMARIES[channel],
            consent_basis="marketing" if marketing else "service",
            consent_text_version="mkt-2026-01" if marketing else None, occurred_at=moment,
        )  # fmt: skip
        due()


def _play(
    session: Session,
    rng: random.Random,
    settings: LeadsSettings,
    sales: list[User],
    now: datetime,
    due: Callable[[], None],
) -> dict:
    clock = Clock()
    counts = {"claimed": 0, "won": 0, "lost": 0}
    touchpoints = list(session.scalars(select(Touchpoint).where(Touchpoint.processed_at.is_(None))))

    def arrive(touchpoint: Touchpoint) -> Callable[[datetime], None]:
        def act(moment: datetime) -> None:
            if not mark_processed(session, touchpoint, moment):
                return
            lead = take_in(session, touchpoint, settings, moment)
            if lead.dispatch_due_at is not None:
                clock.at(max(lead.dispatch_due_at, moment), dispatch)
                clock.at(lead.dispatch_due_at + timedelta(hours=rng.uniform(0.5, 30)), claim(lead))

        return act

    def dispatch(moment: datetime) -> None:
        dispatch_due(session, settings, moment, rng)

    def claim(lead: Lead) -> Callable[[datetime], None]:
        def act(moment: datetime) -> None:
            if lead.owner_id is not None or lead.stage not in (Stage.QUALIFIED, Stage.SALES) or rng.random() < 0.2:
                return
            person = rng.choice(sales)
            try:
                claim_lead(session, person, lead, settings, moment)
            except MilepostError:
                return
            counts["claimed"] += 1
            fate = rng.random()
            if fate < 0.15:
                return  # never followed up: the 24-hour rule takes it back
            clock.at(moment + timedelta(hours=rng.uniform(0.2, 20)), follow(lead, person))

        return act

    def follow(lead: Lead, person: User) -> Callable[[datetime], None]:
        def act(moment: datetime) -> None:
            if lead.owner_id != person.id:
                return
            log_follow_up(
                session, person, lead, kind=rng.choice(["call", "call", "message", "visit"]),
                outcome=rng.choice(["reached", "interested", "call_back", "no_answer"]), body="", settings=settings,
                now=moment,
            )  # fmt: skip
            fate = rng.random()
            later = moment + timedelta(days=rng.uniform(1, 20))
            if fate < 0.3:
                clock.at(later, close(lead, person, Stage.WON))
            elif fate < 0.55:
                clock.at(later, close(lead, person, Stage.LOST))
            elif fate < 0.62:
                clock.at(later, give_back(lead, person))
            # the rest go quiet: the 15-day rule returns them

        return act

    def close(lead: Lead, person: User, stage: str) -> Callable[[datetime], None]:
        def act(moment: datetime) -> None:
            if lead.owner_id != person.id or lead.stage not in (Stage.QUALIFIED, Stage.SALES):
                return
            reason = rng.choice(settings.lost_reasons) if stage == Stage.LOST else None
            move_stage(session, person, lead, stage, settings, moment, lost_reason=reason)
            counts["won" if stage == Stage.WON else "lost"] += 1

        return act

    def give_back(lead: Lead, person: User) -> Callable[[datetime], None]:
        def act(moment: datetime) -> None:
            if lead.owner_id == person.id:
                return_lead(session, person, lead, "客户在外省跑车", settings, moment)

        return act

    def tick(moment: datetime) -> None:
        recycle_due(session, settings, moment)
        if moment + timedelta(hours=2) < now - timedelta(hours=3):
            clock.at(moment + timedelta(hours=2), tick)

    for touchpoint in touchpoints:
        clock.at(touchpoint.occurred_at, arrive(touchpoint))
    if touchpoints:
        clock.at(min(t.occurred_at for t in touchpoints), tick)
    clock.run_until(now, due)
    return counts


def _reactivate_some(session: Session, rng: random.Random, now: datetime, limit: int) -> int:
    """Bring back some lost and pooled leads with a fresh scan (the pools' managers and owners are told)."""
    sleeping = list(
        session.scalars(
            select(Lead)
            .where(Lead.customer_id.is_not(None), Lead.owner_id.is_(None), Lead.stage.in_((Stage.LOST, Stage.SALES)))
            .order_by(Lead.id)
        )
    )
    chosen = rng.sample(sleeping, min(limit, len(sleeping)))
    for number, lead in enumerate(chosen):
        customer = session.get(Customer, lead.customer_id)
        record_touchpoint(
            session, channel=Channel.SCAN, kind="parts", source_type="demo-scan", source_id=number, customer=customer,
            city="郑州", province=lead.province, summary="扫了正品机油滤清器（郑州）",
            occurred_at=now - timedelta(hours=rng.uniform(1, 48)),
        )  # fmt: skip
    return len(chosen)


def _claim_recently(
    session: Session, rng: random.Random, settings: LeadsSettings, sales: list[User], pool: LeadPool, now: datetime
) -> None:
    """Leave leads claimed a day ago and not called yet: two overdue (the next tick returns them), three due soon.

    Only the dealer's own pool: its salespeople may not claim the OEM's leads (outside the territory).
    """
    pooled = session.scalars(
        select(Lead)
        .where(
            Lead.pool_id == pool.id,
            Lead.owner_id.is_(None),
            Lead.stage == Stage.SALES,
        )
        .order_by(Lead.id)
        .limit(40)
    )
    # A claim may be refused (a salesperson's cap or daily limit, which the simulated months used up on some days
    # and not others; the cooldown of the one a rule took the lead from): try the next salesperson, then the next
    # lead, so that the five claims do not depend on the hour the demo is built.
    made = 0
    for lead in pooled:
        if made == 5:
            break
        moment = now - timedelta(hours=25 if made < 2 else 22)
        for offset in range(len(sales)):
            try:
                claim_lead(session, sales[(made + offset) % len(sales)], lead, settings, moment)
            except MilepostError:
                continue
            made += 1
            break


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add dealer territories, a sales team and leads with months of history; return notes to print."""
    oem_admin = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    dealer = session.scalar(
        select(Organization).where(Organization.kind == OrganizationKind.DEALER).order_by(Organization.id)
    )
    if oem_admin is None or dealer is None or session.scalar(select(Vehicle.id).limit(1)) is None:
        return ["Leads: no OEM, dealer or trucks yet; leads demo skipped"]
    settings = leads_settings(load_settings())
    now = utcnow()
    ensure_oem_pool(session)
    pool = create_dealer_pool(session, oem_admin, dealer, sorted({dealer.province or "Henan", *TERRITORY}))
    sales = _team(session, oem_admin, dealer)
    start = now - timedelta(days=HISTORY_DAYS)
    # Months of history played in one go held SQLite's write lock 10-22 s in the worker's build: commit as it goes.
    due = due_checkpoint_of(track)
    _extra_touchpoints(session, rng, start, 60 if size == "small" else 400, due)
    counts = _play(session, rng, settings, sales, now, due)
    woken = _reactivate_some(session, rng, now, 3 if size == "small" else 12)
    counts.update({"woken": woken})
    # The last touches of the demo come in now: taken in, then dispatched once the working hours allow.
    for touchpoint in list(session.scalars(select(Touchpoint).where(Touchpoint.processed_at.is_(None)))):
        if mark_processed(session, touchpoint, now):
            take_in(session, touchpoint, settings, touchpoint.occurred_at)
        due()
    dispatch_due(session, settings, now, rng)  # outside working hours this waits for the worker
    # The simulated tick stops hours before now: return what went overdue since, as the worker's first tick would,
    # so that the only leads past their first-call deadline are the two the story plants next.
    recycle_due(session, settings, now)
    _claim_recently(session, rng, settings, sales, pool, now)
    leads = session.scalars(select(Lead)).all()
    held = sum(1 for lead in leads if lead.owner_id is not None and lead.stage in (Stage.QUALIFIED, Stage.SALES))
    return [f"Leads: {len(leads)} leads ({held} held, {counts['won']} won, {counts['lost']} lost, {woken} reactivated)"]
