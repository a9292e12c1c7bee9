"""Canned answers, merging, surveys, phone reveal, deflection and complaint outcomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role
from service.access import get_request_for, reveal_phone, shown_phone
from service.assignment import take_request
from service.canned import create_canned_answer, placeholder_values, render_canned_answer
from service.clocks import ClockKind
from service.merging import merge_requests, merge_suggestions
from service.models import Event, Survey
from service.replies import add_customer_message, add_reply, change_status, deflect_request
from service.sla import find_clock
from service.surveys import SurveyClosed, answer_survey, send_survey
from service.timeline import build_timeline
from tests.factories import make_customer, make_driver, make_user, make_vehicle
from tests.service.factories import at, make_agent, make_queue, open_test_request, settings

SETTINGS = settings()


def worked_request(session, **fields):
    queue = make_queue(session, mode="manual")
    agent = make_agent(session, queue)
    request = open_test_request(session, queue, **fields)
    take_request(session, agent, request, at("2026-11-30 09:05"))
    return queue, agent, request


def test_canned_answer_uses_the_customers_language_and_fills_the_plate(session):
    answer = create_canned_answer(
        session,
        shortcut="/xl",
        title="修理进度",
        bodies={"zh": "您好，车辆 {vehicle.plate} 正在修理。", "en": "Hello, truck {vehicle.plate} is being repaired."},
    )
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer, plate="豫A12345")
    _queue, agent, zh_request = worked_request(session, customer=customer, vehicle=vehicle)
    _queue, agent_en, en_request = worked_request(session, customer=customer, vehicle=vehicle, locale="en")

    zh = render_canned_answer(answer, zh_request.locale, placeholder_values(session, zh_request, agent, SETTINGS.zone))
    en = render_canned_answer(
        answer, en_request.locale, placeholder_values(session, en_request, agent_en, SETTINGS.zone)
    )

    assert zh.text == "您好，车辆 豫A12345 正在修理。" and zh.sendable
    assert en.text == "Hello, truck 豫A12345 is being repaired."


def test_missing_or_unknown_placeholder_blocks_sending(session):
    answer = create_canned_answer(session, shortcut="/bk", title="预约", bodies={"zh": "{shop.name} 见，{foo}"})
    _queue, agent, request = worked_request(session)

    rendered = render_canned_answer(answer, "zh", placeholder_values(session, request, agent, SETTINGS.zone))

    assert rendered.missing == ("shop.name",) and rendered.unknown == ("foo",)
    assert rendered.text == "{shop.name} 见，{foo}"
    with pytest.raises(InvalidInput) as error:
        add_reply(session, agent, request, rendered.text, "customer", SETTINGS, at("2026-11-30 09:10"))
    assert error.value.field == "body"


def test_requests_from_one_phone_within_72_hours_are_suggested_and_merged(session):
    _user, customer = make_driver(session)
    queue = make_queue(session, mode="manual")
    agent = make_agent(session, queue)
    earlier = open_test_request(session, queue, customer=customer, when="2026-11-30 09:00", subject="刹车异响")
    later = open_test_request(session, queue, customer=customer, when="2026-12-02 08:00", subject="还是异响")
    far = open_test_request(session, queue, customer=customer, when="2026-12-10 08:00", subject="别的事")

    assert merge_suggestions(session, later, SETTINGS) == [earlier]
    assert far not in merge_suggestions(session, earlier, SETTINGS)

    merge_requests(session, agent, earlier, later, SETTINGS, at("2026-12-02 08:30"))

    assert earlier.status == "merged" and earlier.merged_into_id == later.id
    assert later.created_at == at("2026-11-30 09:00")
    assert find_clock(later, ClockKind.FIRST_RESPONSE).started_at == at("2026-11-30 09:00")
    bodies = [
        entry.message.body for entry in build_timeline(session, later, customer_view=True) if not entry.message.is_auto
    ]
    assert bodies == ["刹车异响", "还是异响"]


def test_survey_after_resolution_answers_once_and_expires(session):
    _queue, agent, request = worked_request(session)
    add_reply(session, agent, request, "已处理", "customer", SETTINGS, at("2026-11-30 09:10"))
    change_status(session, agent, request, "resolved", SETTINGS, at("2026-11-30 09:20"))
    survey = session.scalar(select(Survey).where(Survey.request_id == request.id))
    assert survey.expires_at == at("2026-12-14 09:20")
    token = send_survey(session, request, SETTINGS, at("2026-11-30 09:21"))

    answered = answer_survey(session, token, solved=True, stars=5, comment="快", now=at("2026-11-30 10:00"))

    assert answered.stars == 5 and answered.agent_id == agent.id
    with pytest.raises(Conflict):
        answer_survey(session, token, solved=True, stars=4, comment="", now=at("2026-11-30 10:01"))
    late = send_survey(session, request, SETTINGS, at("2026-11-30 09:22"))
    with pytest.raises(SurveyClosed):
        answer_survey(session, late, solved=False, stars=1, comment="", now=at("2026-11-30 09:22") + timedelta(days=14))
    with pytest.raises(NotFound):
        answer_survey(session, "not-a-token", solved=True, stars=5, comment="", now=at("2026-11-30 10:00"))


def test_reopen_and_resolve_again_sends_a_new_survey(session):
    _queue, agent, request = worked_request(session)
    change_status(session, agent, request, "resolved", SETTINGS, at("2026-11-30 09:20"))

    add_customer_message(session, request.customer.user, request, "又坏了", SETTINGS, at("2026-11-30 11:00"))
    assert request.status == "open"
    change_status(session, agent, request, "resolved", SETTINGS, at("2026-11-30 14:00"))

    assert len(session.scalars(select(Survey).where(Survey.request_id == request.id)).all()) == 2


@pytest.mark.parametrize("stars", [0, 6, -1, 10**20, True])
def test_survey_stars_out_of_range_are_refused(session, stars):
    _queue, agent, request = worked_request(session)
    change_status(session, agent, request, "resolved", SETTINGS, at("2026-11-30 09:20"))
    token = send_survey(session, request, SETTINGS, at("2026-11-30 09:21"))

    with pytest.raises(InvalidInput):
        answer_survey(session, token, solved=True, stars=stars, comment="", now=at("2026-11-30 10:00"))


def test_phone_is_masked_until_revealed_and_each_reveal_is_logged(session):
    customer = make_customer(session, phone="13800138000")
    queue = make_queue(session, mode="manual")
    agent = make_agent(session, queue)
    request = open_test_request(session, queue, customer=customer)

    assert shown_phone(agent, request) == "138****8000"
    take_request(session, agent, request, at("2026-11-30 09:05"))
    shop_user = make_user(session, Role.SHOP_STAFF)
    with pytest.raises(NotFound):
        reveal_phone(session, shop_user, request)

    assert reveal_phone(session, agent, request) == "13800138000"
    reveals = session.scalars(select(Event).where(Event.request_id == request.id, Event.kind == "phone_revealed"))
    assert [event.actor_id for event in reveals] == [agent.id]


def test_staff_outside_the_queue_do_not_see_the_request(session):
    queue = make_queue(session, mode="manual")
    request = open_test_request(session, queue)
    dealer = make_user(session, Role.DEALER_STAFF)

    with pytest.raises(NotFound):
        get_request_for(session, dealer, request.id)


def test_a_colleague_who_is_not_assigned_cannot_reveal(session):
    queue = make_queue(session, mode="manual")
    agent, colleague = make_agent(session, queue), make_agent(session, queue)
    request = open_test_request(session, queue)
    take_request(session, agent, request, at("2026-11-30 09:05"))

    with pytest.raises(Forbidden):
        reveal_phone(session, colleague, request)


def test_driver_deflects_a_request_the_knowledge_base_answered(session):
    user, customer = make_driver(session)
    request = open_test_request(session, customer=customer)

    deflect_request(session, user, request, at("2026-11-30 09:02"))

    assert request.status == "deflected"


def test_deflection_is_refused_once_a_person_answered(session):
    _queue, agent, request = worked_request(session)
    add_reply(session, agent, request, "您好", "customer", SETTINGS, at("2026-11-30 09:10"))

    with pytest.raises(Conflict):
        deflect_request(session, request.customer.user, request, at("2026-11-30 09:12"))


def test_other_drivers_cannot_deflect_or_write(session):
    other, _ = make_driver(session)
    request = open_test_request(session)

    with pytest.raises(Forbidden):
        deflect_request(session, other, request, at("2026-11-30 09:02"))
    with pytest.raises(Forbidden):
        add_customer_message(session, other, request, "hi", SETTINGS, at("2026-11-30 09:02"))
