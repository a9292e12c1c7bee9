"""Service pages through the test client: the driver's form and requests, the console, the survey, figures."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from app.security import Role
from service.models import Attachment, ServiceRequest, Survey
from service.queues import add_member, ensure_oem_queues
from service.surveys import send_survey
from tests.factories import make_driver, make_user, make_vehicle, sign_in_client
from tests.service.factories import at, settings


@pytest.fixture
def agent(session):
    agent = make_user(session, Role.OEM_ADMIN)
    add_member(session, ensure_oem_queues(session)["oem:desk"], agent, capacity=0)
    return agent


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x8825] = {2: (34, 45, 0)}
    output = io.BytesIO()
    image.save(output, format="JPEG", exif=exif)
    return output.getvalue()


def test_new_request_page_takes_the_code_from_the_fault_page(client, session, agent):
    user, customer = make_driver(session)
    make_vehicle(session, owner=customer)
    sign_in_client(client, user)

    response = client.get("/service/new?code=SPN%20100%20FMI%201")

    assert response.status_code == 200
    assert 'value="SPN 100 FMI 1"' in response.text
    assert "请给我回电" in response.text


def test_driver_sends_a_request_with_a_photo_and_sees_it_in_my_requests(client, session, agent):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    csrf = sign_in_client(client, user)

    response = client.post(
        "/service/new",
        data={
            "csrf_token": csrf,
            "category": "fault",
            "text": "机油压力低",
            "vin": vehicle.vin,
            "photo": (io.BytesIO(photo_with_gps()), "dash.jpg"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == customer.id))
    attachment = session.scalar(select(Attachment).where(Attachment.request_id == request.id))
    assert Image.open(io.BytesIO(attachment.data)).getexif().get(0x8825) is None
    listed = client.get("/service/mine")
    assert request.number in listed.text
    shown = client.get(f"/service/mine/{request.id}")
    assert "机油压力低" in shown.text


def test_a_file_that_is_not_a_photo_is_refused_with_the_form(client, session, agent):
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)

    response = client.post(
        "/service/new",
        data={"csrf_token": csrf, "category": "fault", "text": "x", "photo": (io.BytesIO(b"%PDF-1.4"), "a.pdf")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 400
    assert "该文件不是照片" in response.text
    assert session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == customer.id)) is None


def test_call_me_back_needs_no_typing(client, session, agent):
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)

    client.post("/service/new", data={"csrf_token": csrf, "callback": "1", "category": "other"})

    request = session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == customer.id))
    assert request.callback_requested and request.channel == "callback" and request.priority == "p2"


def test_console_lists_the_backlog_and_logs_a_call_matched_to_the_customer(client, session, agent):
    _user, customer = make_driver(session)
    csrf = sign_in_client(client, agent)

    response = client.post(
        "/service/console",
        data={
            "csrf_token": csrf,
            "action": "call",
            "phone": customer.phone,
            "name": "",
            "category": "fault",
            "text": "来电：发动机故障灯",
        },
    )

    request = session.scalar(select(ServiceRequest).where(ServiceRequest.channel == "phone"))
    assert response.status_code == 302 and request.customer_id == customer.id
    page = client.get("/service/console")
    assert request.number in page.text
    detail = client.get(f"/service/console/{request.id}")
    assert "来电：发动机故障灯" in detail.text and "****" in detail.text


def test_survey_page_takes_one_answer(client, session, agent):
    user, customer = make_driver(session)
    from service.intake import NewRequest, open_request

    request = open_request(
        session,
        None,
        NewRequest(channel="page", category="other", subject="x", customer=customer),
        settings(),
        at("2026-11-30 09:00"),
    )
    token = send_survey(session, request, settings(), at("2026-11-30 10:00"))
    client.get("/login")
    with client.session_transaction() as cookie:
        cookie["csrf"] = "t"

    form = client.get(f"/service/survey/{token}")
    first = client.post(f"/service/survey/{token}", data={"csrf_token": "t", "solved": "yes", "stars": "5"})
    second = client.get(f"/service/survey/{token}")

    assert form.status_code == 200 and "问题解决了吗" in form.text
    assert first.status_code == 200 and "感谢" in first.text
    assert second.status_code == 409
    assert session.scalar(select(Survey.stars).where(Survey.request_id == request.id)) == 5


def test_figures_page_for_the_oem_only(client, session, agent):
    sign_in_client(client, agent)
    assert client.get("/service/figures").status_code == 200
    driver, _ = make_driver(session)
    sign_in_client(client, driver)
    assert client.get("/service/figures").status_code == 403


@pytest.mark.parametrize("path", ["/service/new", "/service/mine", "/service/console", "/service/figures"])
def test_pages_translate_to_english(client, session, agent, path):
    user = agent if "console" in path or "figures" in path else make_driver(session)[0]
    sign_in_client(client, user)

    response = client.get(path + "?lang=en")

    assert response.status_code == 200
    assert '<html lang="en">' in response.text


def test_a_rejected_booking_disputed_from_the_form_goes_to_the_oem_network_team(client, session, agent):
    from tests.reviews.factories import make_booking, make_shop

    shop = make_shop(session)
    booking = make_booking(session, shop, status="rejected")
    csrf = sign_in_client(client, booking.customer.user)
    form = client.get(f"/service/new?booking={booking.id}")

    client.post(
        "/service/new", data={"csrf_token": csrf, "category": "booking", "text": "拒单", "booking": str(booking.id)}
    )

    assert "投诉将交给主机厂网络管理团队" in form.text
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == booking.customer_id))
    assert request.queue.code == "oem:network" and request.concerns_organization_id == shop.organization_id


def test_oem_console_lists_past_due_requests_of_every_queue(client, session, agent):
    from service.sla import advance_clocks
    from tests.service.factories import make_queue, open_test_request

    other = make_queue(session, "oem:elsewhere")
    request = open_test_request(session, other, when="2026-11-30 09:00")
    advance_clocks(session, settings(), at("2026-12-01 09:00"))
    sign_in_client(client, agent)

    page = client.get("/service/console")

    assert 'id="breached"' in page.text and request.number in page.text
