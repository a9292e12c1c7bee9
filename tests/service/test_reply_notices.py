"""An agent's reply tells the customer (once per reply); an internal note tells nobody."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Notification
from app.crm.notifications import INBOX, SMS
from service.assignment import take_request
from service.replies import add_reply, tell_customer
from tests.factories import make_driver
from tests.service.factories import at, make_agent, make_queue, open_test_request, settings

SETTINGS = settings()


def _told(session, user):
    return session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "service.replied")
    ).all()


def _worked(session):
    queue = make_queue(session, mode="manual")
    agent = make_agent(session, queue)
    driver, customer = make_driver(session)
    request = open_test_request(session, queue, customer=customer)
    take_request(session, agent, request, at("2026-11-30 09:05"))
    return agent, driver, request


def test_a_reply_tells_the_customer_with_a_link_to_the_request(session):
    agent, driver, request = _worked(session)

    message = add_reply(session, agent, request, "请明天上午到店检查。", "customer", SETTINGS, at("2026-11-30 09:10"))
    tell_customer(session, request, message, SETTINGS, at("2026-11-30 09:11"))  # a retry tells nothing new

    rows = _told(session, driver)
    assert [row.channel for row in rows] == [INBOX, SMS]
    assert rows[0].link == f"/service/mine/{request.id}"


def test_an_internal_note_tells_nobody(session):
    agent, driver, request = _worked(session)

    add_reply(session, agent, request, "客户上次也来过", "internal", SETTINGS, at("2026-11-30 09:10"))

    assert _told(session, driver) == []
