"""The core's notification inbox: in-app at once, texts after quiet hours, marketing only with an opt-in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.crm.models import Notification
from app.crm.notifications import (
    INBOX,
    MARKETING,
    SMS,
    count_unread,
    deliver_due,
    list_inbox,
    mark_read,
    notify,
    quiet_until,
    render_text,
    set_marketing_consent,
    set_preferences,
)
from app.errors import InvalidInput
from app.security import Role, User
from app.sms import DevelopmentSender, read_outbox
from tests.factories import make_user

ZONE = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def test_inbox_notification_is_shown_at_once_and_counted_until_read(session):
    user = make_user(session, Role.DEALER_STAFF)

    notify(session, user, "leads.assigned", "Lead %(lead)s is yours", params={"lead": 7}, now=at(10), zone=ZONE)

    assert count_unread(session, user.id) == 1
    assert render_text(list_inbox(session, user.id)[0]) == "Lead 7 is yours"
    assert mark_read(session, user, at(11)) == 1
    assert count_unread(session, user.id) == 0


def test_text_inside_quiet_hours_waits_for_their_end(session, tmp_path):
    user = make_user(session, Role.DRIVER)
    set_preferences(session, user, quiet_start="22:00", quiet_end="08:00", sms_enabled=True, now=at(9))
    sender = DevelopmentSender(tmp_path / "sms.log")

    notify(session, user, "test", "夜间消息", now=at(23), zone=ZONE, channels=(INBOX, SMS))
    early = deliver_due(session, sender, at(7, 59, day=4))
    late = deliver_due(session, sender, at(8, 0, day=4))

    assert (early["sent"], late["sent"]) == (0, 1)
    assert [message["text"] for message in read_outbox(tmp_path / "sms.log")] == ["【Milepost】夜间消息"]
    assert count_unread(session, user.id) == 1  # the inbox copy was there all night


def test_text_outside_quiet_hours_goes_at_once(session, tmp_path):
    user = make_user(session, Role.DRIVER)
    set_preferences(session, user, quiet_start="22:00", quiet_end="08:00", sms_enabled=True, now=at(9))

    (inbox, text) = notify(session, user, "test", "hello", now=at(12), zone=ZONE, channels=(INBOX, SMS))

    assert text.deliver_at == at(12)
    assert deliver_due(session, DevelopmentSender(tmp_path / "sms.log"), at(12))["sent"] == 1


@pytest.mark.parametrize(
    ("start", "end", "hour", "expected"),
    [("22:00", "08:00", 23, (8, 4)), ("22:00", "08:00", 3, (8, 3)), ("22:00", "08:00", 12, None),
     ("12:00", "14:00", 13, (14, 3))],
)  # fmt: skip
def test_quiet_hours_table(session, start, end, hour, expected):
    user = make_user(session, Role.DRIVER)
    preference = set_preferences(session, user, quiet_start=start, quiet_end=end, sms_enabled=True, now=at(9))

    until = quiet_until(preference, ZONE, at(hour))

    assert until == (at(expected[0], day=expected[1]) if expected else None)


def test_no_text_when_the_person_turned_texts_off_or_has_no_phone(session):
    driver = make_user(session, Role.DRIVER)
    set_preferences(session, driver, quiet_start=None, quiet_end=None, sms_enabled=False, now=at(9))
    staff = make_user(session, Role.DEALER_STAFF)

    written = notify(session, driver, "t", "x", now=at(10), zone=ZONE, channels=(INBOX, SMS))
    written += notify(session, staff, "t", "x", now=at(10), zone=ZONE, channels=(INBOX, SMS))

    assert [row.channel for row in written] == [INBOX, INBOX]


def test_a_closed_account_is_told_nothing(session):
    # Issue 14 item 6: after an erasure a shop may still change the person's old booking; nobody reads that inbox.
    driver = make_user(session, Role.DRIVER)
    driver.is_active = False

    written = notify(session, driver, "network.booking_confirmed", "x", now=at(10), zone=ZONE, channels=(INBOX, SMS))

    assert written == [] and count_unread(session, driver.id) == 0


def test_marketing_needs_an_explicit_opt_in(session):
    user = make_user(session, Role.DRIVER)

    refused = notify(session, user, "offer", "延保", now=at(10), zone=ZONE, purpose=MARKETING)
    with pytest.raises(InvalidInput):
        set_marketing_consent(session, user.id, True, at(10))
    set_marketing_consent(session, user.id, True, at(10), "mkt-v1")
    allowed = notify(session, user, "offer", "延保", now=at(10), zone=ZONE, purpose=MARKETING)

    assert refused == []
    assert [row.purpose for row in allowed] == [MARKETING]


def test_bad_quiet_hours_name_the_field(session):
    user = make_user(session, Role.DRIVER)

    with pytest.raises(InvalidInput) as refused:
        set_preferences(session, user, quiet_start="25:00", quiet_end="08:00", sms_enabled=True, now=at(9))

    assert refused.value.field == "quiet_start"


def test_failed_text_is_kept_on_the_row(session):
    user = make_user(session, Role.DRIVER)
    notify(session, user, "t", "x", now=at(10), zone=ZONE, channels=(SMS,))

    class Refusing:
        def send(self, phone, purpose, parameters):
            from app.sms import SmsFailed

            raise SmsFailed("quota")

    counts = deliver_due(session, Refusing(), at(10))

    assert counts == {"sent": 0, "failed": 1}
    assert session.query(Notification).filter_by(user_id=user.id).one().failure == "quota"


@pytest.mark.parametrize(("locale", "expected"), [("zh", "已确认您"), ("en", "confirmed your booking")])
def test_texts_are_written_in_the_language_the_recipient_chose(app, session, tmp_path, locale, expected):
    from app.jobs import JobContext
    from app.web.context import SMS_KEY
    from milepost.tasks import deliver_notifications
    from network.notices import BOOKING_TEXTS

    user = make_user(session, Role.DRIVER)
    set_preferences(session, user, quiet_start=None, quiet_end=None, sms_enabled=True, now=at(9), locale=locale)
    notify(session, user, "network.booking_confirmed", BOOKING_TEXTS["confirmed"], params={"shop": "S", "when": "9:00"},
           now=at(10), zone=ZONE, channels=(INBOX, SMS))  # fmt: skip
    sender = DevelopmentSender(tmp_path / "sms.log")

    with app.app_context():
        deliver_notifications(JobContext(session=session, settings=app.config, now=at(10), extras={SMS_KEY: sender}))

    assert expected in read_outbox(tmp_path / "sms.log")[0]["text"]


def test_a_language_other_than_zh_or_en_names_the_field(session):
    user = make_user(session, Role.DRIVER)

    with pytest.raises(InvalidInput) as refused:
        set_preferences(session, user, quiet_start=None, quiet_end=None, sms_enabled=True, now=at(9), locale="fr")

    assert refused.value.field == "locale"


def test_the_same_key_is_written_once_per_person_and_kind(session):
    user, other = make_user(session, Role.DRIVER), make_user(session, Role.DRIVER)

    first = notify(session, user, "k", "x", now=at(10), channels=(INBOX, SMS), key="booking:1")
    again = notify(session, user, "k", "x", now=at(11), channels=(INBOX, SMS), key="booking:1")
    theirs = notify(session, other, "k", "x", now=at(10), key="booking:1")

    assert (len(first), again, len(theirs)) == (2, [], 1)


def test_two_writers_of_one_event_at_once_leave_one_notification(committed_engine):
    from sqlalchemy import func, select

    from app.db import make_sessionmaker
    from tests.races import race

    maker = make_sessionmaker(committed_engine)
    with maker() as setup:
        user_id = make_user(setup, Role.DRIVER).id
        setup.commit()

    def prepare(session):
        user = session.get(User, user_id)
        return lambda: notify(session, user, "k", "x", now=at(10), key="booking:7")

    outcomes = race(maker, prepare, [(), ()])

    with maker() as check:
        count = check.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == user_id))
    # The loser's unique violation is what makes its request retry (the retry then finds the row and writes nothing).
    assert count == 1
    assert "ok" in outcomes
