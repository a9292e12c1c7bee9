"""The reminder job: one inbox message (and a text outside quiet hours) and one lead touchpoint per due occurrence
of an item; running it again writes nothing; a new occurrence after a service is told again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.clock import local_today
from app.crm.models import Notification, NotificationPreference, Touchpoint
from app.db import SESSIONMAKER_KEY, utcnow
from app.jobs import execute_job
from maintenance.models import Reminder
from maintenance.schedule import reset_item
from milepost.jobs import load_all_tasks
from tests.factories import make_driver, make_vehicle
from tests.maintenance.factories import ZONE, make_plan, read

JOB = "maintenance.send_reminders"


@pytest.fixture
def make_session(app):
    load_all_tasks()
    return app.extensions[SESSIONMAKER_KEY]


def _due_soon_truck(session, **preference):
    plan = make_plan(session)
    user, customer = make_driver(session)
    if preference:
        session.add(NotificationPreference(user_id=user.id, **preference))
    truck = make_vehicle(session, owner=customer, model="HOWO TX", plate="豫A00001", sale_date=local_today(ZONE))
    read(session, truck, 4200, local_today(ZONE))
    return plan, user, truck


def _rows(session, model, **where):
    return session.scalars(select(model).filter_by(**where)).all()


def test_due_soon_reminder_is_one_inbox_message_one_text_and_one_touchpoint(app, make_session, session):
    _plan, user, truck = _due_soon_truck(session)

    run = execute_job(make_session, app.config, JOB)

    notes = _rows(session, Notification, user_id=user.id)
    touchpoints = _rows(session, Touchpoint, vin=truck.vin)
    assert run.result["reminders"] == 1
    assert sorted(note.channel for note in notes) == ["inbox", "sms"]
    assert {note.kind for note in notes} == {"maintenance.due_soon"}
    assert notes[0].params["plate"] == "豫A00001"
    assert [(point.channel, point.kind, point.consent_basis) for point in touchpoints] == [
        ("maintenance", "engine_oil", "service")
    ]


def test_running_the_job_again_writes_nothing_more(app, make_session, session):
    _plan, user, truck = _due_soon_truck(session)
    execute_job(make_session, app.config, JOB)

    again = execute_job(make_session, app.config, JOB)

    assert again.result["reminders"] == 0
    assert len(_rows(session, Notification, user_id=user.id)) == 2
    assert len(_rows(session, Touchpoint, vin=truck.vin)) == 1
    assert len(_rows(session, Reminder, vehicle_id=truck.id)) == 1


def test_overdue_after_due_soon_and_a_new_occurrence_after_a_service_are_told_again(app, make_session, session):
    plan, user, truck = _due_soon_truck(session)
    execute_job(make_session, app.config, JOB)
    read(session, truck, 5200, local_today(ZONE))
    execute_job(make_session, app.config, JOB)
    reset_item(session, truck, plan.items[0], done_km=5200, done_hours=None, done_on=date(2025, 1, 1), source="booking")

    execute_job(make_session, app.config, JOB)

    kinds = [note.kind for note in _rows(session, Notification, user_id=user.id, channel="inbox")]
    assert kinds == ["maintenance.due_soon", "maintenance.overdue", "maintenance.overdue"]


def test_a_driver_who_turned_texts_off_gets_the_inbox_only(app, make_session, session):
    _plan, user, _truck = _due_soon_truck(session, sms_enabled=False, marketing_opt_in=False)

    execute_job(make_session, app.config, JOB)

    assert [note.channel for note in _rows(session, Notification, user_id=user.id)] == ["inbox"]


def test_the_text_waits_for_the_end_of_quiet_hours(app, make_session, session):
    now = utcnow().astimezone(ZONE)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=2)).strftime("%H:%M")
    _plan, user, _truck = _due_soon_truck(session, quiet_start=start, quiet_end=end, sms_enabled=True)

    execute_job(make_session, app.config, JOB)

    [text] = _rows(session, Notification, user_id=user.id, channel="sms")
    assert text.deliver_at > utcnow() + timedelta(hours=1)
