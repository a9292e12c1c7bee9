"""Assignment: capacity, FIFO backlog, presence, fairness of least-open ties, round robin, the take race."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.db import make_sessionmaker
from app.errors import Conflict, Forbidden
from app.security import User
from service.assignment import assign_request, dispatch_backlog, take_request
from service.models import ServiceRequest
from service.replies import change_status
from tests.races import race
from tests.service.factories import at, make_agent, make_queue, open_test_request, settings

SETTINGS = settings()


def held_by(session, queue):
    rows = session.execute(
        select(ServiceRequest.assignee_id, func.count())
        .where(ServiceRequest.queue_id == queue.id, ServiceRequest.status.in_(["new", "open"]))
        .group_by(ServiceRequest.assignee_id)
    )
    return dict(rows.all())


def test_capacity_is_respected_and_the_oldest_waiting_goes_first(session):
    queue = make_queue(session)
    a, b, c = make_agent(session, queue, 2), make_agent(session, queue, 2), make_agent(session, queue, 1)
    requests = [open_test_request(session, queue, when=f"2026-11-30 09:0{n}") for n in range(6)]

    assert sorted(held_by(session, queue).items(), key=str) == sorted(
        {a.id: 2, b.id: 2, c.id: 1, None: 1}.items(), key=str
    )
    waiting = requests[5]
    assert waiting.assignee_id is None
    done = next(r for r in requests if r.assignee_id == c.id)

    change_status(session, c, done, "resolved", SETTINGS, at("2026-11-30 10:00"))

    assert waiting.assignee_id == c.id


def test_backlog_is_served_in_arrival_order(session):
    queue = make_queue(session)
    waiting = [open_test_request(session, queue, when=f"2026-11-30 09:0{n}") for n in range(3)]
    agent = make_agent(session, queue, 2)

    dispatch_backlog(session, queue, at("2026-11-30 09:30"))

    assert [r.assignee_id for r in waiting] == [agent.id, agent.id, None]


@pytest.mark.parametrize("change", ["offline", "away", "inactive member", "deactivated user"])
def test_unavailable_agent_never_receives_one(session, change):
    queue = make_queue(session)
    agent = make_agent(session, queue, 5)
    member = queue.members[0]
    if change in ("offline", "away"):
        member.presence = change
    elif change == "inactive member":
        member.active = False
    else:
        agent.is_active = False

    request = open_test_request(session, queue)

    assert request.assignee_id is None


def test_ties_are_broken_at_random_so_no_agent_is_favoured(session):
    queue = make_queue(session)
    for _ in range(3):
        make_agent(session, queue, 100)
    requests = [open_test_request(session, queue) for _ in range(10)]
    totals = Counter()

    for seed in range(20):
        for request in requests:
            request.assignee_id = None
        session.flush()
        # Load is 10 over 3 agents: one gets 4 each run; creation order must not decide who.
        dispatch_backlog(session, queue, at("2026-11-30 09:00"), random.Random(seed))
        counts = Counter(request.assignee_id for request in requests)
        totals.update(agent for agent, count in counts.items() if count == 4)

    assert len(totals) == 3
    assert max(totals.values()) <= 11


def test_round_robin_goes_to_the_longest_waiting_agent(session):
    queue = make_queue(session, mode="round_robin")
    a, b = make_agent(session, queue, 10), make_agent(session, queue, 10)

    order = [open_test_request(session, queue, when=f"2026-11-30 09:0{n}").assignee_id for n in range(4)]

    assert order == [a.id, b.id, a.id, b.id]


def test_manual_queue_waits_for_a_person(session):
    queue = make_queue(session, mode="manual")
    agent = make_agent(session, queue, 5)
    other = make_agent(session, queue, 5)
    request = open_test_request(session, queue)
    assert request.assignee_id is None

    assign_request(session, agent, request, other, at("2026-11-30 09:10"))

    assert request.assignee_id == other.id and request.status == "open"


def test_take_twice_is_a_conflict_and_outsiders_cannot_take(session):
    queue = make_queue(session, mode="manual")
    agent, other = make_agent(session, queue), make_agent(session, queue)
    outsider = make_agent(session, make_queue(session, "oem:other"))
    request = open_test_request(session, queue)

    take_request(session, agent, request, at("2026-11-30 09:10"))

    with pytest.raises(Conflict):
        take_request(session, other, request, at("2026-11-30 09:11"))
    with pytest.raises(Forbidden):
        take_request(session, outsider, request, at("2026-11-30 09:11"))


@pytest.mark.slow
def test_twenty_agents_taking_one_request_have_exactly_one_winner(committed_engine):
    maker = make_sessionmaker(committed_engine)
    with maker() as setup:
        queue = make_queue(setup, mode="manual")
        agents = [make_agent(setup, queue, 10) for _ in range(20)]
        request = open_test_request(setup, queue)
        setup.commit()
        request_id, agent_ids = request.id, [(agent.id,) for agent in agents]

    def prepare(session, user_id: int):
        actor, target = session.get(User, user_id), session.get(ServiceRequest, request_id)
        return lambda: take_request(session, actor, target, at("2026-11-30 09:30"))

    outcomes = race(maker, prepare, agent_ids)

    assert sorted(outcomes) == ["conflict"] * 19 + ["ok"]
    with maker() as check:
        assert check.get(ServiceRequest, request_id).assignee_id in {agent_id for (agent_id,) in agent_ids}
