"""The leads demo: the demo's touchpoints as leads in pools with owners, some overdue, recycled or reactivated,
and months of funnel history."""

from __future__ import annotations

from datetime import timedelta

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
    assert sum(1 for due in waiting if due <= now) == 2
    assert sum(1 for due in waiting if now < due <= now + timedelta(hours=3)) == 3
    assert any(lead.owner_id is not None for lead in leads)
    assert any(lead.owner_id is None and lead.stage in ("qualified", "sales") for lead in leads)
    assert reasons.get(Reason.FIRST_FOLLOW_UP_TIMEOUT, 0) + reasons.get(Reason.IDLE, 0) > 0
    assert reasons.get(Reason.REACTIVATED, 0) > 0
    assert reasons.get(Reason.WON, 0) > 0 and reasons.get(Reason.LOST, 0) > 0
    assert len({cohort.period for cohort in cohorts}) >= 5
    assert total_of(cohorts).size == len(leads)
    assert any("Leads:" in line for line in demo_database.lines)
