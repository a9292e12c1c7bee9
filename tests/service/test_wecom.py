"""The WeCom customer-service adaptor against recorded callback and sync_msg fixtures (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.errors import InvalidInput
from service.models import ChannelIdentity, Message, ServiceRequest
from service.queues import add_member, ensure_oem_queues
from service.replies import add_reply
from service.wecom import WeComCustomerService, ingest_messages, outgoing_replies, parse_sync_text
from tests.factories import make_customer, make_user
from tests.service.factories import at, settings

FIXTURES = Path(__file__).parent / "fixtures"
CHANNEL = WeComCustomerService()


def batch():
    return parse_sync_text(CHANNEL, (FIXTURES / "wecom_sync_msg.json").read_text(encoding="utf-8"))


def test_callback_gives_the_sync_token():
    assert CHANNEL.parse_callback((FIXTURES / "wecom_callback.xml").read_bytes()).startswith("ENCApHxn")


@pytest.mark.parametrize(
    "body",
    [b"<xml><MsgType>", b'<!DOCTYPE x [<!ENTITY a "b">]><xml/>', b"x" * 70000, b"\x00\xff"],
)
def test_hostile_callbacks_are_refused(body):
    with pytest.raises(InvalidInput):
        CHANNEL.parse_callback(body)


def test_sync_keeps_customer_messages_only():
    parsed = batch()

    assert [message.kind for message in parsed.messages] == ["text", "location", "image", "text"]
    assert parsed.messages[1].lat == pytest.approx(34.7466)
    assert parsed.next_cursor == "4gw7MepFLfgF2VC5npN" and not parsed.has_more


def test_sync_that_is_not_json_or_failed_is_refused():
    with pytest.raises(InvalidInput):
        parse_sync_text(CHANNEL, "[" * 100000)
    with pytest.raises(InvalidInput):
        CHANNEL.parse_sync({"errcode": 40014, "errmsg": "invalid access_token"})


def test_a_session_becomes_one_request_per_customer_and_repeats_are_stored_once(session):
    customer = make_customer(session)
    session.add(
        ChannelIdentity(channel="wecom", external_id="wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", customer_id=customer.id)
    )
    session.flush()

    touched = ingest_messages(session, batch(), settings())
    ingest_messages(session, batch(), settings())

    assert len(touched) == 2
    first = touched[0]
    assert first.customer_id == customer.id and first.lat == pytest.approx(34.7466)
    bodies = session.scalars(
        select(Message.body).where(Message.request_id == first.id, Message.is_auto.is_(False)).order_by(Message.id)
    ).all()
    assert bodies[0].startswith("你好") and len(bodies) == 3
    assert session.query(ServiceRequest).filter_by(channel="wecom").count() == 2


def test_agent_reply_is_built_as_a_send_msg_body(session):
    desk = ensure_oem_queues(session)["oem:desk"]
    agent = make_user(session)
    add_member(session, desk, agent)
    request = ingest_messages(session, batch(), settings())[0]

    add_reply(session, agent, request, "请到最近的服务站检查DPF", "customer", settings(), at("2026-12-02 09:10"))

    bodies = outgoing_replies(session, CHANNEL, request, "wkxxxxxxxxxxxxxxxxxx")
    assert bodies == [
        {
            "touser": "wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "open_kfid": "wkxxxxxxxxxxxxxxxxxx",
            "msgtype": "text",
            "text": {"content": "请到最近的服务站检查DPF"},
        }
    ]
    json.dumps(bodies)
