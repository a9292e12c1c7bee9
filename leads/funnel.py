"""The funnel, computed from the transition log only (never from the leads' current stage): cohorts by the week
or month a lead was created, by channel and region; how many reached each stage, stage-to-stage conversion,
median and 80th-percentile time in stage, lost reasons, the share recycled, and the first-follow-up SLA."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.security import User
from leads.models import (
    OPEN_STAGES,
    RECYCLE_REASONS,
    STAGE_ORDER,
    Lead,
    LeadActivity,
    LeadPool,
    LeadTransition,
    Reason,
    Stage,
)

ASSIGNING = (Reason.CLAIM, Reason.ASSIGNED, Reason.AUTO_ASSIGNED)
FOLLOW_UPS = ("call", "message", "visit")
PERIODS = ("week", "month")


@dataclass
class Cohort:
    """One cell of the funnel: leads created in one period through one channel in one region."""

    period: str
    channel: str
    province: str
    size: int = 0
    reached: dict[str, int] = field(default_factory=dict)
    hours_in_stage: dict[str, list[float]] = field(default_factory=dict)
    lost_reasons: Counter = field(default_factory=Counter)
    recycled: int = 0
    assigned: int = 0
    sla_met: int = 0

    def conversion(self, earlier: str, later: str) -> float | None:
        """Return the share of leads that reached `earlier` and also reached `later`."""
        base = self.reached.get(earlier, 0)
        return round(self.reached.get(later, 0) / base, 3) if base else None

    def time_in_stage(self, stage: str) -> tuple[float | None, float | None]:
        """Return the median and 80th percentile (nearest rank) of hours spent in `stage`."""
        values = sorted(self.hours_in_stage.get(stage, []))
        if not values:
            return None, None
        return round(median(values), 1), round(values[max(0, math.ceil(0.8 * len(values)) - 1)], 1)

    @property
    def recycled_share(self) -> float | None:
        """Return the share of the cohort that went back to a pool by a rule at least once."""
        return round(self.recycled / self.size, 3) if self.size else None

    @property
    def sla_share(self) -> float | None:
        """Return the share of assigned leads followed up within the first-follow-up time."""
        return round(self.sla_met / self.assigned, 3) if self.assigned else None


def period_of(moment: datetime, period: str, zone: ZoneInfo) -> str:
    """Return the local week (2026-W09) or month (2026-03) of a moment."""
    local = moment.astimezone(zone)
    if period == "week":
        year, week, _day = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local.year}-{local.month:02d}"


def compute_funnel(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
    first_follow_up: timedelta,
    period: str = "month",
    organization_id: int | None = None,
    by_channel: bool = True,
    by_region: bool = True,
    now: datetime | None = None,
) -> list[Cohort]:
    """Return the cohorts of leads created in [since, until), from their transitions and follow-ups.

    The first-follow-up SLA counts the assigned leads whose time is up by `now` (default: the clock) or that were
    followed up: a lead claimed two hours ago and not called yet is not a miss.
    """
    now = now or utcnow()
    created = select(LeadTransition.lead_id, LeadTransition.at).where(
        LeadTransition.reason == Reason.CREATED, LeadTransition.at >= since, LeadTransition.at < until
    )
    if organization_id is not None:
        pools = select(LeadPool.id).where(LeadPool.organization_id == organization_id)
        seen = select(LeadTransition.lead_id).where(LeadTransition.to_pool_id.in_(pools))
        created = created.where(LeadTransition.lead_id.in_(seen))
    starts = dict(session.execute(created).all())
    if not starts:
        return []
    ids = list(starts)
    # The lead row gives only what never changes after creation: its first channel and region.
    facts = {
        row.id: row for row in session.execute(select(Lead.id, Lead.channel, Lead.province).where(Lead.id.in_(ids)))
    }
    history: dict[int, list[LeadTransition]] = defaultdict(list)
    for row in session.scalars(
        select(LeadTransition).where(LeadTransition.lead_id.in_(ids)).order_by(LeadTransition.at, LeadTransition.id)
    ):
        history[row.lead_id].append(row)
    follow_ups: dict[int, list[datetime]] = defaultdict(list)
    for lead_id, at in session.execute(
        select(LeadActivity.lead_id, LeadActivity.at).where(
            LeadActivity.lead_id.in_(ids), LeadActivity.kind.in_(FOLLOW_UPS)
        )
    ):
        follow_ups[lead_id].append(at)
    cohorts: dict[tuple[str, str, str], Cohort] = {}
    for lead_id, start in starts.items():
        fact = facts[lead_id]
        key = (
            period_of(start, period, zone),
            fact.channel if by_channel else "",
            (fact.province or "") if by_region else "",
        )
        cohort = cohorts.setdefault(key, Cohort(*key))
        _count_lead(cohort, history[lead_id], follow_ups[lead_id], first_follow_up, now)
    return [cohorts[key] for key in sorted(cohorts)]


def _count_lead(
    cohort: Cohort, transitions: list[LeadTransition], follow_ups: list[datetime], first_follow_up: timedelta,
    now: datetime,
) -> None:  # fmt: skip
    cohort.size += 1
    changes = [row for row in transitions if row.from_stage != row.to_stage]
    for stage in {row.to_stage for row in changes}:
        cohort.reached[stage] = cohort.reached.get(stage, 0) + 1
    for entered, left in zip(changes, changes[1:], strict=False):
        hours = (left.at - entered.at).total_seconds() / 3600
        cohort.hours_in_stage.setdefault(entered.to_stage, []).append(hours)
    for row in changes:
        if row.to_stage == Stage.LOST:
            cohort.lost_reasons[row.note or "unknown"] += 1
    if any(row.reason in RECYCLE_REASONS for row in transitions):
        cohort.recycled += 1
    assignments = [row.at for row in transitions if row.reason in ASSIGNING and row.to_owner_id is not None]
    if assignments:
        first = assignments[0]
        met = any(first <= at <= first + first_follow_up for at in follow_ups)
        if met or first + first_follow_up <= now:  # still inside its time and not called yet: not judged
            cohort.assigned += 1
            cohort.sla_met += 1 if met else 0


def total_of(cohorts: list[Cohort]) -> Cohort:
    """Return all cohorts added up into one."""
    total = Cohort("all", "", "")
    for cohort in cohorts:
        total.size += cohort.size
        for stage, count in cohort.reached.items():
            total.reached[stage] = total.reached.get(stage, 0) + count
        for stage, hours in cohort.hours_in_stage.items():
            total.hours_in_stage.setdefault(stage, []).extend(hours)
        total.lost_reasons.update(cohort.lost_reasons)
        total.recycled += cohort.recycled
        total.assigned += cohort.assigned
        total.sla_met += cohort.sla_met
    return total


def held_per_person(session: Session, organization_id: int | None) -> list[tuple[str, int]]:
    """Return how many open leads each person holds now (a gauge, not part of the cohort funnel)."""
    statement = (
        select(User.display_name, User.email, func.count(Lead.id))
        .join(Lead, Lead.owner_id == User.id)
        .where(Lead.stage.in_(OPEN_STAGES))
        .group_by(User.id, User.display_name, User.email)
        .order_by(func.count(Lead.id).desc())
    )
    if organization_id is not None:
        statement = statement.where(User.organization_id == organization_id)
    return [(name or (email or ""), count) for name, email, count in session.execute(statement)]


CSV_STAGES = [stage.value for stage in STAGE_ORDER] + [Stage.LOST.value]


def funnel_csv(cohorts: list[Cohort]) -> str:
    """Return the cohorts as CSV, one row per cohort."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["period", "channel", "province", "size"] + [f"reached_{stage}" for stage in CSV_STAGES]
    header += [f"conversion_{a}_{b}" for a, b in zip(STAGE_ORDER, STAGE_ORDER[1:], strict=False)]
    header += [f"{kind}_hours_{stage}" for stage in OPEN_STAGES for kind in ("median", "p80")]
    header += ["recycled_share", "first_follow_up_sla_met", "lost_reasons"]
    writer.writerow(header)
    for cohort in cohorts:
        row: list[object] = [cohort.period, cohort.channel, cohort.province, cohort.size]
        row += [cohort.reached.get(stage, 0) for stage in CSV_STAGES]
        row += [cohort.conversion(a, b) for a, b in zip(STAGE_ORDER, STAGE_ORDER[1:], strict=False)]
        row += [value for stage in OPEN_STAGES for value in cohort.time_in_stage(stage)]
        row += [cohort.recycled_share, cohort.sla_share]
        row += [";".join(f"{reason}:{count}" for reason, count in sorted(cohort.lost_reasons.items()))]
        writer.writerow(["" if value is None else value for value in row])
    return out.getvalue()
