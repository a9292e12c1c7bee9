"""WeChat subscription messages: one message per grant, the inbox when there is none, replayed exchanges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.crm.models import Notification
from app.crm.notifications import INBOX, WECHAT, notify
from app.crm.wechat import WechatSender, deliver_wechat_due, record_grant
from app.errors import InvalidInput
from app.security import Role
from tests.factories import make_user

EXCHANGE = json.loads((Path(__file__).parents[1] / "data/wechat_subscribe_exchange.json").read_text())
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 3, 10, tzinfo=ZONE).astimezone(UTC)
OPENID = EXCHANGE["send_body"]["touser"]
TEMPLATE = EXCHANGE["send_body"]["template_id"]
TEXT = "线索 7（booking，B 级）已分给你：请在 24 小时内跟进。"


class Recorded:
    """Answers WeChat's calls from the recorded exchange and keeps what was asked."""

    def __init__(self, send_answer: dict) -> None:
        self.send_answer = send_answer
        self.calls: list[tuple[str, dict | None]] = []

    def __call__(self, url: str, body: bytes | None) -> bytes:
        self.calls.append((url, json.loads(body) if body else None))
        answer = EXCHANGE["token"] if "/cgi-bin/token" in url else self.send_answer
        return json.dumps(answer).encode()


def _sender(transport: Recorded) -> WechatSender:
    return WechatSender(
        EXCHANGE["key"]["app_id"], EXCHANGE["key"]["app_secret"], {"leads.assigned": TEMPLATE}, transport=transport,
        clock=lambda: NOW,
    )  # fmt: skip


def _notify(session, user):
    return notify(session, user, "leads.assigned", TEXT, now=NOW, zone=ZONE, channels=(INBOX, WECHAT))


def test_one_grant_carries_exactly_one_message_as_recorded(session):
    user = make_user(session, Role.DEALER_STAFF)
    record_grant(session, user, OPENID, TEMPLATE, NOW)
    transport = Recorded(EXCHANGE["accepted"])
    _notify(session, user)

    counts = deliver_wechat_due(session, _sender(transport), NOW, ZONE)
    written_again = _notify(session, user)

    assert counts == {"sent": 1, "failed": 0, "no_grant": 0}
    assert transport.calls == [
        (EXCHANGE["token_url"], None),
        (EXCHANGE["send_url"], EXCHANGE["send_body"]),
    ]
    assert [row.channel for row in written_again] == [INBOX]  # the grant is used up: the inbox alone


def test_without_a_grant_the_inbox_carries_the_message(session):
    user = make_user(session, Role.DRIVER)

    written = _notify(session, user)

    assert [row.channel for row in written] == [INBOX]


def test_refusal_is_kept_on_the_row(session):
    user = make_user(session, Role.DEALER_STAFF)
    record_grant(session, user, OPENID, TEMPLATE, NOW)
    _notify(session, user)

    counts = deliver_wechat_due(session, _sender(Recorded(EXCHANGE["refused"])), NOW, ZONE)

    assert counts["failed"] == 1
    row = session.query(Notification).filter_by(user_id=user.id, channel=WECHAT).one()
    assert row.failure.startswith("WeChat refused the message: 43101")


def test_grant_for_another_template_does_not_carry_the_message(session):
    user = make_user(session, Role.DEALER_STAFF)
    record_grant(session, user, OPENID, "TEMPLATE_OTHER", NOW)
    _notify(session, user)

    counts = deliver_wechat_due(session, _sender(Recorded(EXCHANGE["accepted"])), NOW, ZONE)

    assert counts["no_grant"] == 1


def test_grant_needs_an_openid(session):
    with pytest.raises(InvalidInput) as refused:
        record_grant(session, make_user(session, Role.DRIVER), "", TEMPLATE, NOW)

    assert refused.value.field == "openid"


def test_mini_program_reports_grants_over_the_api(client, session):
    from tests.factories import auth_header

    user = make_user(session, Role.DRIVER)

    response = client.post(
        "/api/v1/notifications/wechat-grants",
        json={"openid": OPENID, "template_ids": [TEMPLATE, "TEMPLATE_OTHER"]},
        headers=auth_header(session, user),
    )
    missing = client.post(
        "/api/v1/notifications/wechat-grants", json={"openid": OPENID, "template_ids": []},
        headers=auth_header(session, user),
    )  # fmt: skip

    assert (response.status_code, response.get_json()) == (201, {"recorded": 2})
    assert missing.status_code == 400
    assert [row.channel for row in _notify(session, user)] == [INBOX, WECHAT]


def test_a_wechat_message_inside_quiet_hours_waits_for_their_end(session):
    from app.crm.notifications import set_preferences

    user = make_user(session, Role.DEALER_STAFF)
    record_grant(session, user, OPENID, TEMPLATE, NOW)
    set_preferences(session, user, quiet_start="22:00", quiet_end="08:00", sms_enabled=True, now=NOW)
    night = datetime(2026, 3, 3, 23, 30, tzinfo=ZONE).astimezone(UTC)
    morning = datetime(2026, 3, 4, 8, tzinfo=ZONE).astimezone(UTC)
    notify(session, user, "leads.assigned", TEXT, now=night, zone=ZONE, channels=(INBOX, WECHAT))
    transport = Recorded(EXCHANGE["accepted"])

    at_night = deliver_wechat_due(session, _sender(transport), night + (morning - night) / 2, ZONE)
    at_eight = deliver_wechat_due(session, _sender(transport), morning, ZONE)

    assert at_night == {"sent": 0, "failed": 0, "no_grant": 0}
    assert at_eight["sent"] == 1


def test_a_marketing_message_without_the_opt_in_is_written_on_no_channel(session):
    from app.crm.notifications import SMS, set_marketing_consent

    user = make_user(session, Role.DRIVER, phone="13912345670")
    record_grant(session, user, OPENID, TEMPLATE, NOW)
    channels = (INBOX, SMS, WECHAT)

    without = notify(session, user, "leads.offer", TEXT, now=NOW, zone=ZONE, purpose="marketing", channels=channels)
    set_marketing_consent(session, user.id, True, NOW, "offers-v1")
    opted_in = notify(session, user, "leads.offer", TEXT, now=NOW, zone=ZONE, purpose="marketing", channels=channels)
    set_marketing_consent(session, user.id, False, NOW)
    opted_out = notify(session, user, "leads.offer2", TEXT, now=NOW, zone=ZONE, purpose="marketing", channels=channels)

    assert without == [] and opted_out == []
    assert sorted(row.channel for row in opted_in) == [INBOX, SMS, WECHAT]
