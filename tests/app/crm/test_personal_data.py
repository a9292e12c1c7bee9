"""Issue 14 item 6: a person's copy of their data, erasure (closing the account or the OEM answering a request),
and touchpoint retention."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.config import ConfigError, load_settings, validate_settings
from app.crm.models import ActivityEntry, Customer, Touchpoint
from app.crm.personal_data import apply_touchpoint_retention, erase_person, export_personal_data
from app.db import utcnow
from app.security import Role, User
from leads.models import Lead
from network.models import AssistanceRequest
from reviews.models import Review
from tests.app.crm.personal_data_world import booking_of, make_two, tables_containing
from tests.factories import auth_header, make_user, request_code, sign_in_client, texted_code
from traceability.models import CustodyEvent, Installation

SETTINGS = load_settings({}, environ={})


def _export(client, session, someone, **body):
    return client.post("/api/v1/customers/me/personal-data", json=body, headers=auth_header(session, someone.user))


def test_the_copy_holds_every_domain_of_the_person_and_nothing_of_another(client, session):
    person, other = make_two(session)

    response = _export(client, session, person)

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    export = json.loads(response.data)
    parts = export["parts"]
    assert set(parts) == {"crm", "traceability", "network", "reviews", "service", "community", "leads", "maintenance"}
    nonempty = {
        "crm": ["profile", "account", "vehicles", "touchpoints", "notifications", "activity", "ownerships"],
        "traceability": ["installed_parts", "scans"],
        "network": ["bookings", "roadside_requests"],
        "reviews": ["reviews"],
        "service": ["service_requests", "messages"],
        "community": ["questions", "answers", "reports"],
        "leads": ["leads"],
        "maintenance": ["meter_readings"],
    }
    for part, lists in nonempty.items():
        for name in lists:
            assert parts[part][name], f"{part}.{name} is empty"
    text = response.data.decode()
    assert person.phone in text and person.name in text
    assert other.phone not in text and other.name not in text and other.vehicle.vin not in text
    assert "password_hash" not in text


def test_the_zip_copy_has_the_json_and_a_summary_in_the_readers_language(client, session):
    person, _other = make_two(session)

    response = client.post(
        "/api/v1/customers/me/personal-data",
        json={"format": "zip"},
        headers={**auth_header(session, person.user), "Accept-Language": "zh"},
    )

    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["README.txt", "personal-data.json"]
    summary = archive.read("README.txt").decode()
    assert summary.startswith("Milepost 保存的关于您的全部信息")
    assert "network.bookings：1 条" in summary and "reviews.reviews：1 条" in summary
    assert json.loads(archive.read("personal-data.json"))["customer_id"] == person.customer.id


def test_every_export_is_in_the_activity_log_with_who_asked(client, session):
    person, _other = make_two(session)
    oem = make_user(session, Role.OEM_ADMIN)

    _export(client, session, person)
    by_oem = client.post(
        f"/api/v1/customers/{person.customer.id}/personal-data",
        json={"reason": "SR-000123 客户来电要求"},
        headers=auth_header(session, oem),
    )

    assert by_oem.status_code == 200
    entries = session.scalars(
        select(ActivityEntry).where(ActivityEntry.action == "crm.personal_data_exported").order_by(ActivityEntry.id)
    ).all()
    assert [(entry.actor_id, entry.subject_id) for entry in entries] == [
        (person.user.id, str(person.customer.id)),
        (oem.id, str(person.customer.id)),
    ]
    assert entries[1].details["reason"] == "SR-000123 客户来电要求"


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF, Role.DEALER_STAFF])
def test_a_stranger_can_neither_export_nor_erase_someone_else(client, session, role):
    person, other = make_two(session)
    stranger = other.user if role == Role.DRIVER else make_user(session, role)
    headers = auth_header(session, stranger)

    exported = client.post(
        f"/api/v1/customers/{person.customer.id}/personal-data", json={"reason": "x"}, headers=headers
    )
    erased = client.post(f"/api/v1/customers/{person.customer.id}/erase", json={"reason": "x"}, headers=headers)

    assert (exported.status_code, erased.status_code) == (404, 404)
    assert session.get(Customer, person.customer.id).erased_at is None


def test_the_oem_must_say_which_request_an_export_answers(client, session):
    person, _other = make_two(session)

    response = client.post(
        f"/api/v1/customers/{person.customer.id}/personal-data",
        json={"reason": " "},
        headers=auth_header(session, make_user(session, Role.OEM_ADMIN)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "reason"


def _erase_by_oem(client, session, someone, reason="SR-000124 注销请求"):
    oem = make_user(session, Role.OEM_ADMIN)
    response = client.post(
        f"/api/v1/customers/{someone.customer.id}/erase", json={"reason": reason}, headers=auth_header(session, oem)
    )
    return oem, response


def test_erasure_leaves_the_phone_and_name_in_no_text_column_of_any_table(client, session):
    person, other = make_two(session)

    _oem, response = _erase_by_oem(client, session, person)

    assert response.status_code == 200, response.get_json()
    session.expire_all()
    assert tables_containing(session, person.phone) == []
    assert tables_containing(session, person.name) == []
    assert tables_containing(session, person.vehicle.plate or "豫A12345") == []
    assert tables_containing(session, other.phone) != []


def test_erasure_keeps_custody_installations_reviews_and_the_shops_bookings_without_the_person(client, session):
    person, _other = make_two(session)
    events = session.scalar(select(func.count()).select_from(CustodyEvent))
    review_id = session.scalars(select(Review.id).where(Review.customer_id == person.customer.id)).one()

    _erase_by_oem(client, session, person)

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CustodyEvent)) == events
    installation = session.scalars(select(Installation).where(Installation.vehicle_id == person.vehicle.id)).one()
    assert installation.removed_at is None
    review = session.get(Review, review_id)
    assert (review.overall, review.fingerprint) == (4, None)
    assert review.text.startswith("师傅很好") and "***" in review.text
    booking = booking_of(session, person)
    assert (booking.shop_id is not None, booking.status, booking.note) == (True, "completed", "")
    roadside = session.scalars(
        select(AssistanceRequest).where(AssistanceRequest.customer_id == person.customer.id)
    ).one()
    assert roadside.description == "" and roadside.lat == 34.7
    customer = session.get(Customer, person.customer.id)
    assert (customer.name, customer.erased_at is not None) == ("", True)
    assert session.get(User, person.user.id).is_active is False


def test_erasure_closes_the_persons_leads_through_the_transition_log(client, session):
    person, other = make_two(session)

    _erase_by_oem(client, session, person)

    session.expire_all()
    lead = session.scalars(select(Lead).where(Lead.customer_id == person.customer.id)).one()
    assert (lead.stage, lead.lost_reason, lead.owner_id) == ("lost", "erased", None)
    assert session.scalars(select(Lead.stage).where(Lead.customer_id == other.customer.id)).one() != "lost"


def test_a_second_erasure_changes_nothing_and_both_requests_are_logged_without_the_data(client, session):
    person, _other = make_two(session)
    _erase_by_oem(client, session, person)
    session.expire_all()
    before = session.get(Customer, person.customer.id).erased_at

    _oem, again = _erase_by_oem(client, session, person)

    assert again.status_code == 200 and again.get_json()["erased"] == {}
    session.expire_all()
    assert session.get(Customer, person.customer.id).erased_at == before
    entries = session.scalars(select(ActivityEntry).where(ActivityEntry.action == "crm.personal_data_erased")).all()
    assert len(entries) == 2 and entries[1].details["repeated"] is True
    assert entries[0].details["reason"] == "SR-000124 注销请求"
    assert person.phone not in json.dumps(entries[0].details, ensure_ascii=False)


def test_the_oem_reason_never_carries_the_persons_number_into_the_log(client, session):
    person, _other = make_two(session)

    _erase_by_oem(client, session, person, reason=f"来电 {person.phone} 要求注销")

    entry = session.scalars(select(ActivityEntry).where(ActivityEntry.action == "crm.personal_data_erased")).one()
    assert entry.details["reason"] == "来电 *** 要求注销"


def test_closing_the_account_needs_the_code_texted_to_the_phone(client, session, app):
    person, _other = make_two(session)
    headers = auth_header(session, person.user)
    request_code(client, person.phone, purpose="close_account")

    wrong = client.post("/api/v1/customers/me/close", json={"code": "000000"}, headers=headers)
    still_there = session.get(Customer, person.customer.id).erased_at is None
    right = client.post("/api/v1/customers/me/close", json={"code": texted_code(app, person.phone)}, headers=headers)

    assert wrong.status_code == 401 and wrong.get_json()["error"]["field"] == "code"
    assert still_there
    assert right.status_code == 200, right.get_json()
    assert client.get("/api/v1/customers/me", headers=headers).status_code == 401
    session.expire_all()
    entry = session.scalars(select(ActivityEntry).where(ActivityEntry.action == "crm.personal_data_erased")).one()
    assert (entry.actor_id, entry.details["method"]) == (person.user.id, "self")


def test_the_driver_downloads_from_a_post_of_their_data_page(client, session):
    person, _other = make_two(session)
    csrf = sign_in_client(client, person.user)

    page = client.get("/me/data")
    download = client.post("/me/data", data={"csrf_token": csrf, "action": "export", "format": "json"})

    assert page.status_code == 200
    assert download.status_code == 200 and download.mimetype == "application/json"
    assert json.loads(download.data)["customer_id"] == person.customer.id


def test_the_oem_erases_from_the_customer_page_with_a_reason_and_a_confirmation(client, session):
    person, _other = make_two(session)
    oem = make_user(session, Role.OEM_ADMIN)
    csrf = sign_in_client(client, oem)
    path = f"/crm/customers/{person.customer.id}/personal-data"

    unconfirmed = client.post(path, data={"csrf_token": csrf, "action": "erase", "reason": "SR-1"})
    confirmed = client.post(path, data={"csrf_token": csrf, "action": "erase", "reason": "SR-1", "confirm": "1"})

    assert unconfirmed.status_code == 400
    assert confirmed.status_code == 302
    session.expire_all()
    assert session.get(Customer, person.customer.id).erased_at is not None
    assert client.get(f"/crm/customers/{person.customer.id}").status_code == 200


def test_a_booking_after_erasure_is_refused(session):
    from network.booking import book_slot
    from network.settings import network_settings
    from tests.network.factories import next_slot

    person, _other = make_two(session)
    shop = booking_of(session, person).shop
    erase_person(session, make_user(session, Role.OEM_ADMIN), person.customer, SETTINGS, utcnow(), reason="SR-2")

    from app.errors import Conflict

    with pytest.raises(Conflict):
        book_slot(session, person.user, shop, person.vehicle, "repair", next_slot(), network_settings(SETTINGS))


def test_export_of_an_erased_person_holds_nothing_that_identifies_them(session):
    person, _other = make_two(session)
    oem = make_user(session, Role.OEM_ADMIN)
    erase_person(session, oem, person.customer, SETTINGS, utcnow(), reason="SR-3")

    export = export_personal_data(session, oem, person.customer, SETTINGS, utcnow(), "SR-3")

    text = json.dumps(export, ensure_ascii=False)
    assert person.phone not in text and person.name not in text


# Retention ----------------------------------------------------------------------------------------------------


def _old_touchpoints(session, months: int) -> list[Touchpoint]:
    rows = session.scalars(select(Touchpoint)).all()
    for row in rows:
        row.occurred_at = utcnow() - timedelta(days=31 * months)
    session.flush()
    return rows


def test_retention_anonymizes_touchpoints_past_the_setting_and_keeps_younger_ones(session):
    person, _other = make_two(session)
    old = _old_touchpoints(session, 25)
    young = session.scalars(select(Touchpoint).where(Touchpoint.id == old[0].id)).one()
    young.occurred_at = utcnow() - timedelta(days=30)
    session.flush()

    result = apply_touchpoint_retention(session, utcnow(), 24, "anonymize")

    session.expire_all()
    assert result == {"anonymized": len(old) - 1}
    assert session.get(Touchpoint, young.id).phone is not None
    kept = session.get(Touchpoint, old[1].id)
    assert (kept.phone, kept.customer_id, kept.channel is not None, kept.consent_basis) == (None, None, True, "service")


def test_retention_may_drop_old_touchpoints_even_those_a_lead_took_in(session):
    make_two(session)
    _old_touchpoints(session, 7)

    result = apply_touchpoint_retention(session, utcnow(), 6, "drop")

    assert result["dropped"] > 0
    assert session.scalar(select(func.count()).select_from(Touchpoint)) == 0


def test_consent_proofs_are_kept_at_least_five_months(session):
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput):
        apply_touchpoint_retention(session, utcnow(), 4, "drop")
    with pytest.raises(ConfigError):
        validate_settings(load_settings({"TOUCHPOINT_RETENTION_MONTHS": 4, "TESTING": True}, environ={}))


def test_the_retention_job_runs_with_the_settings(session):
    from app.jobs import JOBS, JobContext
    from milepost.jobs import load_all_tasks

    load_all_tasks()
    make_two(session)
    _old_touchpoints(session, 30)
    spec = JOBS["core.touchpoint_retention"]

    result = spec.function(JobContext(session=session, now=utcnow(), settings=SETTINGS))

    assert result["anonymized"] > 0


def test_the_oem_erases_a_customer_a_dealer_entered_who_never_had_an_account(client, session):
    from tests.factories import make_customer, make_vehicle

    customer = make_customer(session, name="慕容长风", phone="13711112222")
    make_vehicle(session, owner=customer, plate="豫C11111")
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.post(
        f"/api/v1/customers/{customer.id}/erase", json={"reason": "SR-7"}, headers=auth_header(session, oem)
    )

    assert response.status_code == 200, response.get_json()
    session.expire_all()
    assert tables_containing(session, "13711112222") == []
    assert tables_containing(session, "慕容长风") == []


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF])
def test_the_customer_page_form_is_a_404_for_anyone_but_the_oem(client, session, role):
    person, other = make_two(session)
    csrf = sign_in_client(client, other.user if role == Role.DRIVER else make_user(session, role))

    response = client.post(
        f"/crm/customers/{person.customer.id}/personal-data",
        data={"csrf_token": csrf, "action": "erase", "reason": "x", "confirm": "1"},
    )

    assert response.status_code == 404
    assert session.get(Customer, person.customer.id).erased_at is None
