"""The funnel from the transition log: a hand-computed March cohort, unchanged when current statuses change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from leads.funnel import compute_funnel, funnel_csv, total_of
from leads.models import Lead, Stage
from leads.ownership import assign_lead
from leads.rules import recycle_due
from leads.stages import log_follow_up, move_stage
from tests.leads.helpers import SHANGHAI, lead_from_touch, local, make_world, settings


def _march_cohort(session):
    """10 leads created 2 March; 4 reach sales 4 March, 2 on 1 April, 1 of the first won 2 April."""
    world = make_world(session)
    rules = settings()
    leads = [lead_from_touch(session, local(2026, 3, 2, 10), rules) for _ in range(10)]
    assign_lead(session, world.manager, leads[0], world.sales[0], rules, local(2026, 3, 2, 10))
    assign_lead(session, world.manager, leads[1], world.sales[1], rules, local(2026, 3, 2, 10))
    log_follow_up(session, world.sales[0], leads[0], kind="call", outcome="reached", body="", settings=rules,
                  now=local(2026, 3, 2, 20))  # fmt: skip
    recycle_due(session, rules, local(2026, 3, 3, 10))  # leads[1]: no follow-up within 24 h
    for lead in leads[:4]:
        move_stage(session, world.manager, lead, Stage.SALES, rules, local(2026, 3, 4, 10))
    for lead in leads[4:6]:
        move_stage(session, world.manager, lead, Stage.SALES, rules, local(2026, 4, 1, 10))
    move_stage(session, world.manager, leads[0], Stage.WON, rules, local(2026, 4, 2, 10))
    return world, rules, leads


def _funnel(session, rules, world=None):
    return compute_funnel(
        session, since=local(2026, 1, 1), until=local(2026, 7, 1), zone=SHANGHAI,
        first_follow_up=rules.first_follow_up, organization_id=world.dealer.id if world else None,
    )  # fmt: skip


def test_march_cohort_reaches_ten_six_one(session):
    world, rules, _leads = _march_cohort(session)

    (march,) = _funnel(session, rules)

    assert (march.period, march.channel, march.province, march.size) == ("2026-03", "booking", "Henan", 10)
    assert [march.reached.get(stage, 0) for stage in ("new", "qualified", "sales", "won")] == [10, 6, 6, 1]
    assert march.conversion("new", "sales") == 0.6
    assert march.conversion("sales", "won") == 0.167


def test_time_in_stage_recycling_and_sla_come_from_the_log(session):
    _world, rules, _leads = _march_cohort(session)

    (march,) = _funnel(session, rules)

    assert march.time_in_stage("new") == (48.0, 720.0)
    assert march.time_in_stage("sales") == (696.0, 696.0)
    assert march.recycled_share == 0.1
    assert (march.assigned, march.sla_met, march.sla_share) == (2, 1, 0.5)


def test_cohort_unchanged_when_current_statuses_change_later(session):
    world, rules, leads = _march_cohort(session)
    before = _funnel(session, rules)[0].reached.copy()

    for lead in leads[1:4]:
        move_stage(session, world.manager, lead, Stage.LOST, rules, local(2026, 5, 10, 10), lost_reason="price")
    (march,) = _funnel(session, rules)

    in_sales_now = session.scalar(select(func.count()).select_from(Lead).where(Lead.stage == Stage.SALES))
    assert in_sales_now == 2  # what a current-status count would report
    assert {stage: march.reached[stage] for stage in before} == before
    assert march.lost_reasons == {"price": 3}


def test_dealer_funnel_only_counts_its_pool_and_csv_exports_it(session):
    world, rules, _leads = _march_cohort(session)

    cohorts = _funnel(session, rules, world)
    text = funnel_csv(cohorts)

    assert total_of(cohorts).size == 10
    header, row = text.splitlines()[:2]
    assert header.startswith("period,channel,province,size,reached_new")
    assert row.startswith("2026-03,booking,Henan,10,10,6,6,1")


def test_weekly_cohorts_split_by_iso_week(session):
    _world, rules, _leads = _march_cohort(session)

    cohorts = compute_funnel(
        session, since=local(2026, 1, 1), until=local(2026, 7, 1), zone=SHANGHAI,
        first_follow_up=timedelta(hours=24), period="week",
    )  # fmt: skip

    assert [cohort.period for cohort in cohorts] == ["2026-W10"]


def test_a_lead_still_inside_its_first_follow_up_time_is_not_counted_as_missed(session):
    from app.db import utcnow

    world = make_world(session)
    rules = settings()
    now = utcnow()
    waiting, missed = (lead_from_touch(session, now - timedelta(hours=40), rules) for _ in range(2))
    assign_lead(session, world.manager, waiting, world.sales[0], rules, now - timedelta(hours=2))
    assign_lead(session, world.manager, missed, world.sales[1], rules, now - timedelta(hours=30))

    (cohort,) = compute_funnel(
        session, since=now - timedelta(days=3), until=now + timedelta(days=1), zone=SHANGHAI,
        first_follow_up=rules.first_follow_up, by_channel=False, by_region=False,
    )  # fmt: skip

    assert (cohort.assigned, cohort.sla_met) == (1, 0)  # the one called two hours ago still has 22 hours
