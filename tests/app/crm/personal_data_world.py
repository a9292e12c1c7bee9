"""A person with data in every domain, and a second one beside them, for the personal-data tests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import String, Text, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON

from app.config import load_settings
from app.crm.activity import record_activity
from app.crm.models import Customer, Vehicle
from app.crm.notifications import notify
from app.crm.touchpoints import record_touchpoint
from app.crm.wechat import record_grant
from app.db import Base, utcnow
from app.errors import CountedFailure
from app.one_time_codes import PhoneCodeSettings, send_phone_code
from app.security import LoginLimits, User, authenticate
from community.models import Report
from leads.intake import take_in_touchpoints
from leads.models import Lead
from leads.notices import tell_returned
from maintenance.meters import record_reading
from milepost.factory import load_personal_data_parts
from network.models import Booking
from service.models import Message
from tests.community.factories import make_answer, make_question
from tests.factories import make_customer, make_user, make_vehicle
from tests.leads.helpers import World, make_world
from tests.leads.helpers import settings as leads_settings
from tests.network.factories import make_assistance_request
from tests.reviews.factories import make_shop, write_review
from tests.service.factories import make_queue, open_test_request
from tests.traceability.factories import install_part_on
from traceability.models import Scan

ZONE = ZoneInfo("Asia/Shanghai")
SETTINGS = load_settings({"SECRET_KEY": "personal-data-tests"}, environ={})


@dataclass
class Someone:
    user: User
    customer: Customer
    vehicle: Vehicle
    phone: str
    name: str


class Unsent:
    """An SMS adaptor that sends nothing (the codes these people are sent are never used)."""

    def send(self, phone: str, purpose: str, parameters: dict[str, str]) -> None:
        """Send nothing."""


def _try_before_registering(session: Session, phone: str) -> None:
    """Ask for a code to the number and sign in with it before it is an account (attempts keyed by the number)."""
    send_phone_code(session, Unsent(), phone, "register", "10.0.0.9", PhoneCodeSettings.from_settings(SETTINGS))
    with contextlib.suppress(CountedFailure):
        authenticate(session, phone, "not-the-password", "10.0.0.9", LoginLimits.from_settings(SETTINGS))


def make_someone(session: Session, world: World, phone: str, name: str, plate: str) -> Someone:
    """Add a driver with a truck, a fitted part, a review, a roadside call, a service request, posts, a lead, and
    what staff were told about them."""
    load_personal_data_parts()
    _try_before_registering(session, phone)
    user = make_user(session, "driver", phone=phone, display_name=name)
    customer = make_customer(session, user=user, name=name, phone=phone)
    record_activity(session, user, "crm.driver_registered", "customer", customer.id, record="new")
    vehicle = make_vehicle(session, owner=customer, plate=plate, odometer_km=350_000)
    install_part_on(session, vehicle.vin)
    now = utcnow()
    record_reading(session, user, vehicle, "km", 351_000, now, "driver", now=now, max_km_per_day=1_500)
    shop = make_shop(session)
    review = write_review(session, shop, 4, driver=(user, customer))
    review.text = f"师傅很好，我是{name}，电话 {phone[:3]} {phone[3:7]} {phone[7:]}"
    review.booking.note = f"请打 {phone}"
    make_assistance_request(session, customer=customer, vehicle=vehicle, description=f"{name} 在京港澳 K620 爆胎")
    make_queue(session)
    request = open_test_request(session, customer=customer, subject=f"{name}的车异响", body=f"回电 {phone}")
    session.add(Message(request_id=request.id, author_customer_id=customer.id, body=f"我是{name}", via_channel="page"))
    question = make_question(session, user, title=f"机油灯亮 {user.id}", body=f"联系 {phone}")
    make_answer(session, question, user, body="换了机油滤清器就好了")
    session.add(Report(target_kind="question", target_id=question.id, reporter_id=user.id, reason="spam",
                       note=f"{name} 举报", due_at=utcnow()))  # fmt: skip
    record_touchpoint(
        session, channel="scan", kind="parts", source_type="scan", source_id=user.id, customer=customer,
        vehicle=vehicle, province="Henan", summary="scanned a genuine oil filter at Zhengzhou",
    )  # fmt: skip
    take_in_touchpoints(session, leads_settings(), utcnow())
    lead = session.scalars(select(Lead).where(Lead.phone == phone)).one()
    tell_returned(session, lead, world.sales[0], f"{name} 的电话 {phone} 打不通", leads_settings(), utcnow())
    notify(session, user, "test.hello", "Hello %(name)s", now=utcnow(), zone=ZONE, params={"name": name})
    record_grant(session, user, f"openid-{user.id}", "template-1", utcnow())
    session.add(Scan(verdict="genuine", user_id=user.id, lat=34.75, lon=113.62, province="Henan"))
    session.flush()
    return Someone(user, customer, vehicle, phone, name)


def make_two(session: Session) -> tuple[Someone, Someone]:
    """Return the person a test is about and another person with the same kinds of data."""
    world = make_world(session)
    return (
        make_someone(session, world, "13912345678", "欧阳娜娜", "豫A12345"),
        make_someone(session, world, "13687654321", "司马懿航", "豫B54321"),
    )


def tables_containing(session: Session, text: str) -> list[str]:
    """Return "table.column" for every text or JSON column of every table holding `text` anywhere."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            hits = session.scalar(
                select(func.count()).select_from(table).where(cast(column, String).contains(text, autoescape=True))
            )
            if hits:
                found.append(f"{table.name}.{column.name}")
    return found


def booking_of(session: Session, someone: Someone) -> Booking:
    return session.scalars(select(Booking).where(Booking.customer_id == someone.customer.id)).one()
