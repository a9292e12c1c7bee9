"""The published certification state machine, over plain KPI records.

Tiers and how a shop moves between them (each evaluation proposes at most one step):

    none      -> candidate   meets the candidate thresholds
    candidate -> certified   meets the certified thresholds;   candidate -> none when it meets no level
    certified -> gold        meets the gold thresholds;         certified -> watch when it falls below certified
    gold      -> certified   meets certified but not gold;      gold -> watch when it falls below certified
    watch     -> certified   meets certified again;             watch -> probation when it still does not
    probation -> certified   cured before the deadline;         probation -> revoked once the deadline passes
    any       -> suspended   integrity breach (counterfeit parts linked to the shop, fake reviews): at once
    suspended, revoked       stay until the OEM overrides with a written reason

A proposed step only takes effect when the same step is proposed by `confirmations` consecutive evaluations
(two by default), so one bad week does not demote a shop and one good week does not promote it. Integrity
breaches and a passed cure deadline take effect at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.errors import InvalidInput
from reviews.settings import CRITERIA, LEVELS, Thresholds


class Tier(StrEnum):
    """Where a shop stands in the certification programme."""

    NONE = "none"
    CANDIDATE = "candidate"
    CERTIFIED = "certified"
    GOLD = "gold"
    WATCH = "watch"
    PROBATION = "probation"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


# Tiers whose shop counts as certified for search, coverage and a green plaque.
CERTIFIED_TIERS = frozenset({Tier.CERTIFIED, Tier.GOLD, Tier.WATCH, Tier.PROBATION})
# Tiers that show green on the plaque page; watch and probation show amber.
GREEN_TIERS = frozenset({Tier.CERTIFIED, Tier.GOLD})
AMBER_TIERS = frozenset({Tier.WATCH, Tier.PROBATION})
LEVEL_RANK = {"none": 0, "candidate": 1, "certified": 2, "gold": 3}


@dataclass(frozen=True)
class Kpis:
    """One shop's key performance indicators over the evaluation window (None: no data to judge by)."""

    rating: float
    rating_count: int
    completion_rate: float | None = None
    rejection_rate: float | None = None
    no_show_rate: float | None = None
    roadside_acceptance_rate: float | None = None
    roadside_response_minutes: float | None = None
    genuine_part_ratio: float | None = None
    counterfeit_incidents: int = 0
    flagged_reviews: int = 0
    bookings: int = 0
    completed_repairs: int = 0
    genuine_installs: int = 0
    roadside_offers: int = 0

    def to_dict(self) -> dict:
        """Return the KPIs as stored in snapshots (rates rounded to 4 places)."""
        return {key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Proposal:
    """The step one evaluation proposes, why, and whether it skips confirmation."""

    tier: Tier
    reason: str
    immediate: bool = False


@dataclass(frozen=True)
class Standing:
    """A shop's stored certification state as the machine needs it."""

    tier: Tier
    pending_tier: Tier | None = None
    pending_count: int = 0
    cure_deadline: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """The result of one evaluation: the new standing, and the change made (None when the tier stays)."""

    standing: Standing
    changed: bool
    reason: str


def unmet_criteria(kpis: Kpis, criteria: dict[str, float]) -> list[str]:
    """Return the criteria of one level that the KPIs fail, as readable phrases; a KPI without data passes."""
    failures = []
    for name, threshold in criteria.items():
        kpi, direction = CRITERIA[name]
        value = getattr(kpis, kpi)
        if value is None:
            continue
        if (direction == "min" and value < threshold) or (direction == "max" and value > threshold):
            shown = round(value, 3) if isinstance(value, float) else value
            failures.append(f"{kpi} {shown} {'<' if direction == 'min' else '>'} {threshold:g}")
    return failures


def qualified_level(kpis: Kpis, thresholds: Thresholds) -> tuple[str, list[str]]:
    """Return the highest level whose thresholds the KPIs meet, and what keeps them from the next one."""
    reached = "none"
    for level in LEVELS:
        failures = unmet_criteria(kpis, thresholds.levels[level])
        if failures:
            return reached, failures
        reached = level
    return reached, []


def integrity_breaches(kpis: Kpis, thresholds: Thresholds) -> list[str]:
    """Return the integrity breaches in the KPIs (each suspends the shop at once)."""
    breaches = []
    if kpis.counterfeit_incidents > thresholds.max_counterfeit_incidents:
        breaches.append(f"{kpis.counterfeit_incidents} counterfeit incident(s) linked to the shop")
    if kpis.flagged_reviews > thresholds.max_flagged_reviews:
        breaches.append(f"{kpis.flagged_reviews} reviews flagged as manipulated")
    return breaches


def propose_tier(current: Tier, kpis: Kpis, thresholds: Thresholds, now: datetime, cure_deadline: datetime | None):
    """Return the one step the state machine proposes from `current` given the KPIs."""
    if current in (Tier.REVOKED, Tier.SUSPENDED):
        return Proposal(current, f"{current} until the OEM overrides")
    breaches = integrity_breaches(kpis, thresholds)
    if breaches:
        return Proposal(Tier.SUSPENDED, "integrity breach: " + "; ".join(breaches), immediate=True)
    level, missing = qualified_level(kpis, thresholds)
    rank = LEVEL_RANK[level]
    short = "; ".join(missing)
    if current == Tier.NONE:
        if rank >= 1:
            return Proposal(Tier.CANDIDATE, "meets the candidate thresholds")
        return Proposal(current, f"below candidate: {short}")
    if current == Tier.CANDIDATE:
        if rank >= 2:
            return Proposal(Tier.CERTIFIED, "meets the certified thresholds")
        if rank == 0:
            return Proposal(Tier.NONE, f"no longer meets candidate: {short}")
        return Proposal(current, f"below certified: {short}")
    if current in (Tier.CERTIFIED, Tier.GOLD):
        if rank == 3:
            return Proposal(Tier.GOLD, "meets the gold thresholds")
        if rank == 2:
            return Proposal(Tier.CERTIFIED, "meets certified" + (f"; below gold: {short}" if short else ""))
        return Proposal(Tier.WATCH, f"below certified: {short}")
    if current in (Tier.WATCH, Tier.PROBATION):
        if rank >= 2:
            return Proposal(Tier.CERTIFIED, "meets the certified thresholds again")
        if current == Tier.WATCH:
            return Proposal(Tier.PROBATION, f"still below certified: {short}")
        if cure_deadline is not None and now > cure_deadline:
            return Proposal(Tier.REVOKED, f"cure deadline passed and still below certified: {short}", immediate=True)
        return Proposal(current, f"on probation until the cure deadline: {short}")
    raise ValueError(f"unknown tier {current!r}")


def apply_proposal(standing: Standing, proposal: Proposal, thresholds: Thresholds, now: datetime) -> Outcome:
    """Apply a proposal: change at once when immediate or confirmed enough times, else record it as pending."""
    if proposal.tier == standing.tier:
        kept = Standing(standing.tier, None, 0, standing.cure_deadline)
        return Outcome(kept, False, proposal.reason)
    count = standing.pending_count + 1 if standing.pending_tier == proposal.tier else 1
    if proposal.immediate or count >= thresholds.confirmations:
        return Outcome(enter_tier(proposal.tier, now, thresholds.cure_days), True, proposal.reason)
    return Outcome(Standing(standing.tier, proposal.tier, count, standing.cure_deadline), False, proposal.reason)


def enter_tier(tier: Tier, now: datetime, cure_days: int) -> Standing:
    """Return the standing of a shop that has just entered `tier` (probation starts its cure period)."""
    deadline = now + timedelta(days=cure_days) if tier == Tier.PROBATION else None
    return Standing(tier, None, 0, deadline)


def parse_tier(value: str, field: str = "tier") -> Tier:
    """Return the tier named `value`, or a 400 naming `field`."""
    try:
        return Tier(value)
    except ValueError:
        raise InvalidInput(f"%(field)s must be one of {', '.join(Tier)}", field=field) from None


def plaque_colour(tier: Tier | None) -> str:
    """Return the plaque page colour for a live tier: green, amber or red."""
    if tier in GREEN_TIERS:
        return "green"
    if tier in AMBER_TIERS:
        return "amber"
    return "red"
