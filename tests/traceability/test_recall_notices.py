"""A recall tells the owner of every truck carrying a recalled part, once, with a link to the truck."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Notification
from app.crm.notifications import INBOX, SMS
from app.db import utcnow
from app.jobs import QUEUE_KEY, JobContext, JobRun
from app.security import Role
from tests.factories import make_driver, make_user, make_vehicle
from tests.traceability.factories import install_part_on
from traceability import recalls
from traceability.recalls import create_recall, tell_owners
from traceability.tasks import notify_recall_owners

NOTICE = {"notice_zh": "刹车片批次存在裂纹风险。", "notice_en": "Brake pads may crack."}


def _installed(session):
    driver, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer, plate="豫A12345")
    part = install_part_on(session, vehicle.vin)
    return driver, vehicle, part


def _told(session, user) -> list[Notification]:
    return session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "traceability.recall")
    ).all()


def test_the_owner_of_an_affected_truck_is_told_and_nobody_else(session):
    driver, vehicle, part = _installed(session)
    bystander, _vehicle, _part = _installed(session)
    oem = make_user(session, Role.OEM_ADMIN)

    recall = create_recall(session, oem, serials=[{"gtin": part.gtin, "serial": part.serial}], **NOTICE)

    rows = _told(session, driver)
    assert [row.channel for row in rows] == [INBOX, SMS]
    assert rows[0].params == {"recall": recall.code, "vehicle": "豫A12345"}
    assert rows[0].link == f"/crm/vehicles/{vehicle.vin}"
    assert _told(session, bystander) == []


def test_telling_again_writes_nothing_new(session):
    driver, _vehicle, part = _installed(session)
    recall = create_recall(
        session, make_user(session, Role.OEM_ADMIN), serials=[{"gtin": part.gtin, "serial": part.serial}], **NOTICE
    )

    again = tell_owners(session, recall, recalls.DEFAULT_ZONE, utcnow())

    assert again == 0
    assert len(_told(session, driver)) == 2


class Queue:
    def submit(self, run_id, name, eta):  # handed the run after commit; these tests never commit
        pass


def test_a_large_recall_is_told_by_the_job(session, monkeypatch):
    driver, _vehicle, part = _installed(session)
    monkeypatch.setattr(recalls, "NOTIFY_INLINE", 0)
    monkeypatch.setitem(session.info, QUEUE_KEY, Queue())
    recall = create_recall(
        session, make_user(session, Role.OEM_ADMIN), serials=[{"gtin": part.gtin, "serial": part.serial}], **NOTICE
    )
    queued = session.scalars(select(JobRun).where(JobRun.name == recalls.NOTIFY_JOB)).one()
    before = _told(session, driver)

    summary = notify_recall_owners(JobContext(session=session, settings={}, now=utcnow(), payload=queued.payload))

    assert before == []
    assert queued.payload == {"recall_id": recall.id}
    assert summary == {"told": 1}
    assert len(_told(session, driver)) == 2
