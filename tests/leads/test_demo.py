"""The leads demo: the demo's touchpoints as leads in pools with owners, some overdue, recycled or reactivated,
and months of funnel history."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from app.db import make_engine, make_sessionmaker, utcnow
from leads.funnel import compute_funnel, total_of
from leads.models import Lead, LeadTransition, Reason
from tests.leads.helpers import SHANGHAI


def test_demo_leads_have_owners_overdue_recycled_reactivated_and_history(demo_database):
    engine = make_engine(demo_database.url)
    with make_sessionmaker(engine)() as session:
        now = utcnow()
        leads = session.scalars(select(Lead)).all()
        reasons = dict(
            session.execute(select(LeadTransition.reason, func.count()).group_by(LeadTransition.reason)).all()
        )
        cohorts = compute_funnel(
            session, since=now - timedelta(days=200), until=now + timedelta(days=1), zone=SHANGHAI,
            first_follow_up=timedelta(hours=24),
        )  # fmt: skip
    engine.dispose()
    waiting = [lead.first_follow_up_due_at for lead in leads if lead.first_follow_up_due_at is not None]

    # Five leads claimed a day ago and not called yet: two past their 24 hours, three due within the next hours.
    # At some hours there are more of either: a lead the simulated months claimed in the last day and that a rule
    # does not take back (a protected lead, leads.rules.is_protected) is overdue too, as it would be in the worker's
    # hands.
    assert sum(1 for due in waiting if due <= now) >= 2
    assert sum(1 for due in waiting if now < due <= now + timedelta(hours=3)) >= 3
    assert any(lead.owner_id is not None for lead in leads)
    assert any(lead.owner_id is None and lead.stage in ("qualified", "sales") for lead in leads)
    assert reasons.get(Reason.FIRST_FOLLOW_UP_TIMEOUT, 0) + reasons.get(Reason.IDLE, 0) > 0
    assert reasons.get(Reason.REACTIVATED, 0) > 0
    assert reasons.get(Reason.WON, 0) > 0 and reasons.get(Reason.LOST, 0) > 0
    assert len({cohort.period for cohort in cohorts}) >= 5
    assert total_of(cohorts).size == len(leads)
    assert any("Leads:" in line for line in demo_database.lines)


@pytest.mark.parametrize("shanghai_time", ["01:00", "18:30", "23:30"])
def test_the_demos_overdue_and_due_soon_leads_do_not_depend_on_the_time_of_day(session, monkeypatch, shanghai_time):
    """The dealer's landing page shows leads past their first-call deadline: exactly the two the story plants. A
    lead the simulated months had claimed in the last day went overdue unnoticed at some hours (the simulated
    minute tick stops hours before now), which the worker's first real tick then took back."""
    import random
    from datetime import datetime

    import leads.demo as leads_demo
    from milepost.demo import _quiet, seed_core, seed_customers

    hour, minute = map(int, shanghai_time.split(":"))
    now = datetime(2026, 12, 6, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)
    monkeypatch.setattr(leads_demo, "utcnow", lambda: now)
    rng = random.Random(2026)
    seed_core(session, rng, "small", _quiet)
    seed_customers(session, rng, "small", _quiet)

    leads_demo.seed(session, rng, "small", _quiet)

    waiting = [
        due
        for due in session.scalars(select(Lead.first_follow_up_due_at).where(Lead.first_follow_up_due_at.is_not(None)))
    ]
    waiting = [due.replace(tzinfo=UTC) if due.tzinfo is None else due for due in waiting]
    assert sum(1 for due in waiting if due <= now) == 2
    assert sum(1 for due in waiting if now < due <= now + timedelta(hours=3)) >= 3
