"""SLA clocks on stored requests: what counts as a response, pauses, policy changes, warnings and breaches."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from service.clocks import ClockKind
from service.models import HeldNotification, SlaPolicy
from service.notices import release_held_notifications
from service.replies import add_reply, change_status
from service.sla import advance_clocks, find_clock
from tests.service.factories import at, make_agent, make_queue, open_test_request, settings

SETTINGS = settings()


def office_request(session, **fields):
    queue = make_queue(session)
    session.add(
        SlaPolicy(
            name="office",
            queue_id=queue.id,
            first_response_minutes=60,
            next_response_minutes=120,
            resolution_minutes=8 * 60,
        )
    )
    agent = make_agent(session, queue)
    request = open_test_request(session, queue, **fields)
    return queue, agent, request


def test_first_response_due_counts_office_hours(session):
    _queue, _agent, request = office_request(session, when="2026-11-27 17:30")

    assert find_clock(request, ClockKind.FIRST_RESPONSE).due_at == at("2026-11-30 09:00")


def test_internal_note_and_auto_ack_do_not_count_a_late_reply_does(session):
    _queue, agent, request = office_request(session)
    add_reply(session, agent, request, "先查一下配件库存", "internal", SETTINGS, at("2026-11-30 09:05"))
    first = find_clock(request, ClockKind.FIRST_RESPONSE)
    assert first.met_at is None

    advance_clocks(session, SETTINGS, at("2026-11-30 10:01"))
    add_reply(session, agent, request, "您好，我们已安排", "customer", SETTINGS, at("2026-11-30 10:10"))

    assert first.breached_at == at("2026-11-30 10:00")
    assert first.met_at == at("2026-11-30 10:10")
    assert request.first_responded_at == at("2026-11-30 10:10")


def test_waiting_on_parts_moves_resolution_not_first_response(session):
    _queue, agent, request = office_request(session, when="2026-11-30 08:30")
    resolution = find_clock(request, ClockKind.RESOLUTION)
    first = find_clock(request, ClockKind.FIRST_RESPONSE)
    before_resolution, before_first = resolution.due_at, first.due_at

    change_status(session, agent, request, "waiting_on_parts", SETTINGS, at("2026-11-30 10:30"))
    change_status(session, agent, request, "open", SETTINGS, at("2026-11-30 15:00"))

    assert resolution.paused_seconds == 3 * 3600
    assert resolution.due_at == at("2026-12-01 11:30")
    assert before_resolution == at("2026-11-30 18:00")
    assert first.due_at == before_first


def test_priority_change_applies_the_new_policy_and_keeps_paused_time(session):
    queue, agent, request = office_request(session, when="2026-11-30 08:30")
    session.add(
        SlaPolicy(
            name="urgent",
            queue_id=queue.id,
            priority="p1",
            first_response_minutes=15,
            next_response_minutes=30,
            resolution_minutes=4 * 60,
        )
    )
    change_status(session, agent, request, "waiting_on_parts", SETTINGS, at("2026-11-30 10:30"))
    change_status(session, agent, request, "open", SETTINGS, at("2026-11-30 15:00"))
    from service.sla import reapply_policy

    request.priority = "p1"
    reapply_policy(session, request, SETTINGS)

    resolution = find_clock(request, ClockKind.RESOLUTION)
    assert resolution.target_minutes == 240
    assert resolution.paused_seconds == 3 * 3600
    assert resolution.due_at == at("2026-11-30 17:00")


def test_warning_at_75_percent_goes_to_the_assignee(session):
    _queue, agent, request = office_request(session)

    counts = advance_clocks(session, SETTINGS, at("2026-11-30 09:46"))

    assert counts["warned"] == 1
    notice = session.scalar(select(HeldNotification).where(HeldNotification.user_id == agent.id))
    assert notice.kind == "sla_warning" and notice.sent_at == at("2026-11-30 09:46")


def test_breach_is_recorded_once_and_the_supervisor_is_told(session):
    queue, _agent, request = office_request(session)
    supervisor = make_agent(session, queue, capacity=0)
    queue.supervisor_id = supervisor.id

    first = advance_clocks(session, SETTINGS, at("2026-11-30 10:05"))
    again = advance_clocks(session, SETTINGS, at("2026-11-30 10:06"))

    assert first["breached"] == 1 and again["breached"] == 0
    kinds = session.scalars(select(HeldNotification.kind).where(HeldNotification.user_id == supervisor.id)).all()
    assert kinds == ["sla_breach"]
    assert find_clock(request, ClockKind.FIRST_RESPONSE).breached_at == at("2026-11-30 10:00")


def test_notification_for_a_closed_queue_waits_until_it_opens(session):
    # A brakes request's clocks run 24/7, but the office queue's people are told only when it opens.
    _queue, agent, request = office_request(session, when="2026-11-30 21:00", category="brakes_steering")

    advance_clocks(session, SETTINGS, at("2026-11-30 21:50"))
    notice = session.scalar(select(HeldNotification).where(HeldNotification.user_id == agent.id))

    assert notice.sent_at is None and notice.release_at == at("2026-12-01 08:30")
    assert release_held_notifications(session, at("2026-12-01 08:29")) == 0
    assert release_held_notifications(session, at("2026-12-01 08:30")) == 1


def test_paused_request_is_not_warned(session):
    _queue, agent, request = office_request(session, when="2026-11-30 08:30")
    add_reply(session, agent, request, "请拍一下仪表盘", "customer", SETTINGS, at("2026-11-30 08:40"))
    change_status(session, agent, request, "waiting_on_customer", SETTINGS, at("2026-11-30 08:41"))

    counts = advance_clocks(session, SETTINGS, at("2026-12-02 17:00"))

    assert counts == {"warned": 0, "breached": 0, "oem_alerted": 0}


def test_safety_category_clock_runs_around_the_clock(session):
    _queue, _agent, request = office_request(session, when="2026-11-30 22:00", category="brakes_steering")

    assert find_clock(request, ClockKind.FIRST_RESPONSE).due_at == at("2026-11-30 22:00") + timedelta(minutes=60)
