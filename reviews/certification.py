"""Certification: KPIs per shop from network and traceability data, evaluation runs, overrides and history.

KPIs over the rolling window (thresholds `window_days`, by booking start, offer time, install time):
- rating, rating_count: the shop's shrunk overall score and the number of reviews it rests on;
- completion_rate: completed / (completed + rejected + overdue), where overdue bookings were confirmed or
  checked in and their slot ended more than a day ago without being completed or marked a driver no-show;
- rejection_rate: rejected / bookings (driver cancellations excluded);
- no_show_rate: the shop's no-shows, overdue / (completed + overdue): bookings it accepted and never served;
- roadside_acceptance_rate: accepted / answered-or-expired offers (offers lost to a faster shop excluded);
- roadside_response_minutes: mean minutes from offer to acceptance;
- genuine_part_ratio: genuine parts installed by the shop (traceability installations) per completed
  repair booking, capped at 1; not judged while no installation at all is recorded in the window (roll-out);
- counterfeit_incidents: traceability alerts naming the shop's organization that come from its own custody
  events (selling or installing used, destroyed or replayed parts), and drivers' counterfeit / used-as-new
  reports about it that the OEM is investigating;
- flagged_reviews: reviews in the window flagged for shop-organized manipulation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload

from app.crm.activity import activity_values
from app.crm.models import ActivityEntry
from app.errors import Conflict, InvalidInput
from app.jobs import JobRun, enqueue
from app.security import Role, User, is_oem, require_role
from network.models import AssistanceOffer, Booking, BookingStatus, OfferStatus, Service, Shop
from reviews.models import CertificationChange, CertificationState, ChangeKind, EvaluationRun, Plaque
from reviews.plaques import issue_plaque
from reviews.ratings import CHUNK, read_review_snapshot, recent_flag_counts, store_scores_from_snapshot
from reviews.scoring import priors_from_sums
from reviews.settings import ReviewSettings, Thresholds, configured_thresholds, parse_thresholds
from reviews.standing import publish_tier, publish_tiers
from reviews.tiers import (
    CERTIFIED_TIERS,
    GREEN_TIERS,
    Kpis,
    Standing,
    Tier,
    apply_proposal,
    enter_tier,
    parse_tier,
    propose_tier,
)
from traceability.models import Alert, AlertStatus, Installation

# Services whose completion normally installs parts.
PART_SERVICES = (Service.MAINTENANCE, Service.REPAIR, Service.ENGINE, Service.ELECTRICAL, Service.TYRES)
# Traceability alert causes raised by a shop's own custody events: it tried to sell or install a part that was
# already installed, removed, destroyed, or with a replayed activation code. Hard evidence: each one counts.
CUSTODY_INCIDENT_CAUSES = (
    "resale_after_install",
    "resale_after_removal",
    "activation_after_install",
    "activation_of_destroyed",
    "resale_of_destroyed",
    "activation_replayed",
)
# Drivers' reports naming the shop as seller or installer count once the OEM has taken them up (investigating).
# Scan alerts (bad tag, clone signals) are not counted: they name whoever scanned, often an honest shop.
REPORT_INCIDENT_CAUSES = ("reported_counterfeit", "reported_used_as_new")
OVERDUE_AFTER = timedelta(days=1)
MIN_OVERRIDE_REASON = 10


EVALUATION_JOB = "reviews.evaluate_certification"
PROGRESS_EVERY = 50  # shops between two progress reports of a running evaluation


def _grouped(session: Session, statement) -> dict:
    return {row[0]: row[1:] if len(row) > 2 else row[1] for row in session.execute(statement).all()}


def compute_kpis(
    session: Session, shops: list[Shop], ratings: dict[int, tuple[float, int]], thresholds: Thresholds, now: datetime
) -> dict[int, Kpis]:
    """Return the KPIs of every shop in `shops` with a handful of grouped queries."""
    since = now - timedelta(days=thresholds.window_days)
    bookings: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    cutoff = now - OVERDUE_AFTER
    for shop_id, status, count, ended in session.execute(
        select(Booking.shop_id, Booking.status, func.count(), func.sum(case((Booking.end < cutoff, 1), else_=0)))
        .where(Booking.start >= since, Booking.start <= now)
        .group_by(Booking.shop_id, Booking.status)
    ):
        ended = int(ended or 0)
        if status in (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN):
            bookings[shop_id]["overdue"] += ended
            count -= ended
        bookings[shop_id][status] += count
    # A shop's genuine-part ratio is judged only over repairs completed after its programme start: its first
    # recorded genuine installation, or the OEM's roll-out day in its province if that came first. Before it, a
    # shop with repairs and no recorded installs is "not yet measured" (None), neither passing nor failing.
    started = programme_starts(session, shops, thresholds)
    repair_rows = (
        session.execute(
            select(Booking.shop_id, Booking.start)
            .where(
                Booking.status == BookingStatus.COMPLETED,
                Booking.service.in_([str(service) for service in PART_SERVICES]),
                Booking.start >= since,
                Booking.shop_id.in_(list(started)),
            )
            .execution_options(yield_per=5000)
        )
        if started
        else ()
    )
    repairs: dict[int, int] = defaultdict(int)
    for shop_id, start in repair_rows:
        if start >= started[shop_id]:
            repairs[shop_id] += 1
    offers: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for shop_id, status, answered, count in session.execute(
        select(AssistanceOffer.shop_id, AssistanceOffer.status, AssistanceOffer.responded_at.is_not(None), func.count())
        .where(AssistanceOffer.offered_at >= since)
        .group_by(AssistanceOffer.shop_id, AssistanceOffer.status, AssistanceOffer.responded_at.is_not(None))
    ):
        offers[shop_id][status if answered or status != OfferStatus.WITHDRAWN else "expired"] += count
    response_minutes = {}
    for shop_id, offered_at, responded_at in session.execute(
        select(AssistanceOffer.shop_id, AssistanceOffer.offered_at, AssistanceOffer.responded_at).where(
            AssistanceOffer.offered_at >= since, AssistanceOffer.status == OfferStatus.ACCEPTED
        )
    ):
        if responded_at is not None:
            response_minutes.setdefault(shop_id, []).append((responded_at - offered_at).total_seconds() / 60)
    installs = _grouped(
        session,
        select(Installation.organization_id, func.count())
        .where(Installation.installed_at >= since)
        .group_by(Installation.organization_id),
    )
    incidents = _grouped(
        session,
        select(Alert.organization_id, func.count())
        .where(
            or_(
                Alert.cause.in_(CUSTODY_INCIDENT_CAUSES),
                and_(Alert.cause.in_(REPORT_INCIDENT_CAUSES), Alert.status == AlertStatus.INVESTIGATING),
            ),
            Alert.last_seen_at >= since,
        )
        .group_by(Alert.organization_id),
    )
    flagged = recent_flag_counts(session, since)
    result = {}
    for shop in shops:
        counts = bookings.get(shop.id, {})
        completed, rejected, overdue = (counts.get(key, 0) for key in ("completed", "rejected", "overdue"))
        # A request nobody answered before its start is a refusal (expired by the worker, or not yet).
        rejected += counts.get(BookingStatus.EXPIRED, 0) + counts.get(BookingStatus.REQUESTED, 0)
        total = sum(value for key, value in counts.items() if key != BookingStatus.CANCELLED)
        shop_offers = offers.get(shop.id, {})
        judged = sum(shop_offers.get(key, 0) for key in ("accepted", "declined", "expired"))
        minutes = response_minutes.get(shop.id)
        repair_count = repairs.get(shop.id, 0)
        genuine = installs.get(shop.organization_id, 0)
        rating, rating_count = ratings.get(shop.id, (0.0, 0))
        result[shop.id] = Kpis(
            rating=rating,
            rating_count=rating_count,
            completion_rate=_ratio(completed, completed + rejected + overdue),
            rejection_rate=_ratio(rejected, total),
            no_show_rate=_ratio(overdue, completed + overdue),
            roadside_acceptance_rate=_ratio(shop_offers.get("accepted", 0), judged),
            roadside_response_minutes=sum(minutes) / len(minutes) if minutes else None,
            genuine_part_ratio=min(1.0, genuine / repair_count) if repair_count else None,
            counterfeit_incidents=incidents.get(shop.organization_id, 0),
            flagged_reviews=flagged.get(shop.id, 0),
            bookings=total,
            completed_repairs=repair_count,
            genuine_installs=genuine,
            roadside_offers=judged,
        )
    return result


def programme_starts(session: Session, shops: list[Shop], thresholds: Thresholds) -> dict[int, datetime]:
    """Return when genuine-part tracking began for each shop that has begun: its first recorded installation, or
    the roll-out day of its province, whichever came first."""
    first = dict(
        session.execute(
            select(Installation.organization_id, func.min(Installation.installed_at)).group_by(
                Installation.organization_id
            )
        ).all()
    )
    starts = {}
    for shop in shops:
        candidates = [
            moment
            for moment in (first.get(shop.organization_id), thresholds.rollout_start(shop.province or ""))
            if moment is not None
        ]
        if candidates:
            starts[shop.id] = min(candidates)
    return starts


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def published_tier(tier: Tier) -> str:
    """Return what network's `Shop.certification_tier` gets: network counts anything but `none` as certified."""
    return str(tier) if tier in CERTIFIED_TIERS else "none"


def get_state(session: Session, shop: Shop) -> CertificationState:
    """Return the shop's certification state, creating it at tier `none`."""
    state = session.get(CertificationState, shop.id)
    if state is None:
        state = CertificationState(shop_id=shop.id, tier=Tier.NONE, pending_count=0, pending_reason="", kpis={})
        session.add(state)
    return state


def record_change(
    session: Session,
    shop: Shop,
    state: CertificationState,
    new: Standing,
    kind: ChangeKind,
    reason: str,
    kpis: dict,
    now: datetime,
    ring,
    actor: User | None = None,
    run: EvaluationRun | None = None,
    bulk: BulkRows | None = None,
) -> CertificationChange:
    """Move the shop to a new tier: history row with KPI snapshot, network's column, a plaque when newly green.

    With `bulk` (the evaluation) the history and activity rows, the tier and the plaque are left to the caller,
    which writes every shop's at once (`BulkRows.write`)."""
    activity = activity_values(
        actor,
        "reviews.certification_changed",
        "shop",
        shop.code,
        organization_id=shop.organization_id,
        kind=str(kind),
        from_tier=str(state.tier),
        to_tier=str(new.tier),
        reason=reason[:500],
        run_id=run.id if run is not None else None,
    )
    values = {
        "shop_id": shop.id,
        "from_tier": state.tier,
        "to_tier": new.tier,
        "kind": kind,
        "reason": reason[:1000],
        "kpis": kpis,
        "actor_id": actor.id if actor else None,
        "run_id": run.id if run else None,
        "created_at": now,
    }
    change = CertificationChange(**values)
    if bulk is None:
        session.add(ActivityEntry(**activity))
        session.flush()
        session.add(change)
    else:
        bulk.activities.append(activity)
        bulk.changes.append(values)
    state.tier = new.tier
    state.since = now
    state.pending_tier = None
    state.pending_count = 0
    state.pending_reason = ""
    state.cure_deadline = new.cure_deadline
    if bulk is not None:
        if new.tier in GREEN_TIERS:
            bulk.green.append(shop)
        return change
    publish_tier(session, shop, published_tier(new.tier))
    if new.tier in GREEN_TIERS:
        issue_missing_plaque(session, ring, shop, actor, now)
    return change


def issue_missing_plaque(session: Session, ring, shop: Shop, actor: User | None, now: datetime) -> None:
    """Issue a plaque to a shop that has just turned green and has no live one (nothing without a key ring)."""
    if ring is None:
        return
    has_plaque = session.scalar(select(Plaque.id).where(Plaque.shop_id == shop.id, Plaque.revoked_at.is_(None)))
    if has_plaque is None:
        issue_plaque(session, ring, shop, actor, now)


@dataclass
class BulkRows:
    """What an evaluation's tier changes write, gathered to be written at once."""

    activities: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    green: list[Shop] = field(default_factory=list)

    def write(self, session: Session, ring, now: datetime) -> None:
        """Insert the history and activity rows in two statement streams, then issue the plaques."""
        if self.activities:
            session.execute(insert(ActivityEntry), self.activities)
        if self.changes:
            session.execute(insert(CertificationChange), self.changes)
        for shop in self.green:
            issue_missing_plaque(session, ring, shop, None, now)


def evaluate_certification(
    session: Session,
    actor: User | None,
    thresholds: Thresholds,
    settings: ReviewSettings,
    ring,
    now: datetime,
    shop_codes: list[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationRun:
    """Run one evaluation: refresh priors and scores, compute KPIs, step every shop's state machine."""
    if actor is not None:
        require_role(actor, Role.OEM_ADMIN)
    statement = select(Shop).options(selectinload(Shop.organization)).order_by(Shop.id)
    if shop_codes:
        statement = statement.where(Shop.code.in_(shop_codes))
    shops = list(session.scalars(statement))
    if shop_codes and len(shops) != len(set(shop_codes)):
        unknown = sorted(set(shop_codes) - {shop.code for shop in shops})
        raise InvalidInput("unknown shop code %(value)s", field="shops", value=unknown[0])
    # Every review is read once, added up per shop in the database: the network prior and every score come
    # from those sums.
    sums = read_review_snapshot(session, settings, now)
    priors = priors_from_sums(sums.values(), settings.default_prior)
    run = EvaluationRun(
        actor_id=actor.id if actor else None, started_at=now, thresholds=thresholds.to_dict(), priors=priors
    )
    session.add(run)
    session.flush()
    ratings = store_scores_from_snapshot(session, shops, sums, settings, priors, now)
    all_kpis = compute_kpis(session, shops, ratings, thresholds, now)
    states = load_states(session, shops)
    tiers, bulk = [], BulkRows()
    for done, shop in enumerate(shops):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, len(shops))
        state = states[shop.id]
        kpis = all_kpis[shop.id]
        standing = Standing(
            Tier(state.tier), parse_optional_tier(state.pending_tier), state.pending_count, state.cure_deadline
        )
        proposal = propose_tier(standing.tier, kpis, thresholds, now, state.cure_deadline)
        outcome = apply_proposal(standing, proposal, thresholds, now)
        snapshot = kpis.to_dict()
        state.kpis = snapshot
        state.evaluated_at = now
        state.run_id = run.id
        if outcome.changed:
            kind = ChangeKind.EVALUATION
            if outcome.standing.tier == Tier.SUSPENDED:
                kind = ChangeKind.INTEGRITY
            elif outcome.standing.tier == Tier.REVOKED:
                kind = ChangeKind.DEADLINE
            record_change(
                session,
                shop,
                state,
                outcome.standing,
                kind,
                outcome.reason,
                snapshot,
                now,
                ring,
                run=run,
                bulk=bulk,
            )
            run.changes += 1
        else:
            state.pending_tier = outcome.standing.pending_tier
            state.pending_count = outcome.standing.pending_count
            state.pending_reason = outcome.reason[:500] if outcome.standing.pending_tier else ""
            run.pending += 1 if outcome.standing.pending_tier else 0
        tiers.append((shop, published_tier(Tier(state.tier))))
    publish_tiers(session, tiers)
    bulk.write(session, ring, now)
    run.shops_evaluated = len(shops)
    session.flush()
    return run


def load_states(session: Session, shops: list[Shop]) -> dict[int, CertificationState]:
    """Return the certification state of every given shop (read a chunk at a time), creating missing ones."""
    states: dict[int, CertificationState] = {}
    ids = [shop.id for shop in shops]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        states.update(
            (state.shop_id, state)
            for state in session.scalars(select(CertificationState).where(CertificationState.shop_id.in_(chunk)))
        )
    for shop in shops:
        if shop.id not in states:  # known to be absent: no look-up per shop
            states[shop.id] = CertificationState(
                shop_id=shop.id, tier=Tier.NONE, pending_count=0, pending_reason="", kpis={}
            )
            session.add(states[shop.id])
    return states


def request_evaluation(
    session: Session, actor: User, thresholds: dict | None, shop_codes: list[str] | None, config: Mapping[str, Any]
) -> JobRun:
    """Check an evaluation request (thresholds, shop codes) and queue it for the worker; return the job run."""
    require_role(actor, Role.OEM_ADMIN)
    parse_thresholds(thresholds, field="thresholds") if thresholds is not None else configured_thresholds(config)
    if shop_codes:
        known = set(session.scalars(select(Shop.code).where(Shop.code.in_(shop_codes))))
        unknown = sorted(set(shop_codes) - known)
        if unknown:
            raise InvalidInput(f"unknown shop code {unknown[0]}", field="shops")
    payload = {"thresholds": thresholds, "shops": shop_codes}
    return enqueue(session, EVALUATION_JOB, payload, actor_id=actor.id)


def parse_optional_tier(value: str | None) -> Tier | None:
    """Return the tier named `value`, or None."""
    return Tier(value) if value else None


def override_tier(
    session: Session, actor: User, shop: Shop, tier: str, reason: str, thresholds: Thresholds, ring, now: datetime
) -> CertificationChange:
    """Set a shop's tier by OEM decision with a written reason (recorded with the current KPI snapshot)."""
    require_role(actor, Role.OEM_ADMIN)
    target = parse_tier(tier)
    reason = (reason or "").strip()
    if len(reason) < MIN_OVERRIDE_REASON or len(reason) > 1000:
        raise InvalidInput(
            "a written reason of %(minimum)s to 1000 characters is required",
            field="reason",
            minimum=MIN_OVERRIDE_REASON,
        )
    # Two staff approving one pending change at once: the second waits here and then sees the tier already set.
    session.get(CertificationState, shop.id, with_for_update=True, populate_existing=True)
    state = get_state(session, shop)
    if state.tier == target:
        raise Conflict("the shop is already %(target)s", field="tier", target=target)
    change = record_change(
        session,
        shop,
        state,
        enter_tier(target, now, thresholds.cure_days),
        ChangeKind.OVERRIDE,
        reason,
        dict(state.kpis or {}),
        now,
        ring,
        actor=actor,
    )
    session.flush()
    return change


def change_to_dict(change: CertificationChange, show_staff: bool = False) -> dict:
    """Return one history entry; who decided is "oem" or "evaluation", with the OEM user's id for OEM staff only."""
    body = {
        "from": change.from_tier,
        "to": change.to_tier,
        "kind": change.kind,
        "reason": change.reason,
        "kpis": change.kpis,
        "by": "oem" if change.actor_id is not None else "evaluation",
        "run": change.run_id,
        "at": change.created_at.isoformat(),
    }
    if show_staff:
        body["actor"] = change.actor_id
    return body


def certification_summary(session: Session, shop: Shop, actor: User | None = None) -> dict:
    """Return a shop's tier, its pending change, the last KPI snapshot and the history, newest first.

    The record is public (the plaque links to it): staff accounts appear only when OEM staff read it."""
    state = session.get(CertificationState, shop.id)
    history = session.scalars(
        select(CertificationChange)
        .where(CertificationChange.shop_id == shop.id)
        .order_by(CertificationChange.created_at.desc(), CertificationChange.id.desc())
    ).all()
    plaque = session.scalar(select(Plaque).where(Plaque.shop_id == shop.id, Plaque.revoked_at.is_(None)))
    return {
        "shop": shop.code,
        "name": shop.name,
        "tier": state.tier if state else Tier.NONE,
        "since": state.since.isoformat() if state else None,
        "pending": (
            {"tier": state.pending_tier, "confirmations": state.pending_count, "reason": state.pending_reason}
            if state and state.pending_tier
            else None
        ),
        "cure_deadline": state.cure_deadline.isoformat() if state and state.cure_deadline else None,
        "kpis": state.kpis if state else {},
        "evaluated_at": state.evaluated_at.isoformat() if state and state.evaluated_at else None,
        "plaque": plaque.number if plaque else None,
        "history": [change_to_dict(change, show_staff=is_oem(actor)) for change in history],
    }


def state_to_dict(state: CertificationState) -> dict:
    """Return one row of the certification board."""
    return {
        "shop": state.shop.code,
        "name": state.shop.name,
        "province": state.shop.province,
        "tier": state.tier,
        "since": state.since.isoformat(),
        "pending": {"tier": state.pending_tier, "confirmations": state.pending_count, "reason": state.pending_reason}
        if state.pending_tier
        else None,
        "cure_deadline": state.cure_deadline.isoformat() if state.cure_deadline else None,
        "kpis": state.kpis,
        "evaluated_at": state.evaluated_at.isoformat() if state.evaluated_at else None,
    }


def run_to_dict(run: EvaluationRun) -> dict:
    """Return an evaluation run's summary."""
    return {
        "run": run.id,
        "at": run.started_at.isoformat(),
        "shops_evaluated": run.shops_evaluated,
        "changes": run.changes,
        "pending": run.pending,
        "priors": run.priors,
        "thresholds": run.thresholds,
    }
