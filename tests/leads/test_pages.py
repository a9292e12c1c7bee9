"""Leads pages: the salesperson's pool and leads, a lead's page, the manager's assign page, the funnel and CSV."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Notification
from app.db import utcnow
from leads.models import LeadActivity, Stage
from leads.ownership import assign_lead
from leads.team import add_member
from tests.factories import make_driver, make_organization, make_user, sign_in_client
from tests.leads.helpers import make_world, pool_lead, settings


def test_salesperson_claims_logs_a_call_and_converts(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    csrf = sign_in_client(client, world.sales[0])

    pool_page = client.get("/leads?lang=zh").get_data(as_text=True)
    claimed = client.post(f"/leads/{lead.id}/claim", data={"csrf_token": csrf})
    called = client.post(
        f"/leads/{lead.id}",
        data={"csrf_token": csrf, "action": "follow_up", "kind": "call", "outcome": "reached", "topic": "maintenance"},
    )
    won = client.post(f"/leads/{lead.id}", data={"csrf_token": csrf, "action": "won"})

    assert "认领" in pool_page
    assert (claimed.status_code, called.status_code, won.status_code) == (302, 302, 302)
    session.refresh(lead)
    assert (lead.stage, lead.owner_id) == (Stage.WON, world.sales[0].id)
    assert (
        session.scalar(
            select(LeadActivity.kind).where(LeadActivity.lead_id == lead.id, LeadActivity.user_id.is_not(None))
        )
        == "call"
    )


def test_lost_without_reason_shows_the_error_on_the_page(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    csrf = sign_in_client(client, world.manager)

    response = client.post(f"/leads/{lead.id}?lang=en", data={"csrf_token": csrf, "action": "lost", "lost_reason": ""})

    assert response.status_code == 400
    assert "say why the lead was lost" in response.get_data(as_text=True)


def test_lead_of_another_dealer_is_not_found(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    outsider = make_user(session, "dealer_staff", make_organization(session, kind="dealer", province="Hebei"))
    add_member(session, world.oem_admin, outsider)
    csrf = sign_in_client(client, outsider)

    seen = client.get(f"/leads/{lead.id}")
    claimed = client.post(f"/leads/{lead.id}/claim", data={"csrf_token": csrf})
    listed = client.get("/leads").get_data(as_text=True)

    assert (seen.status_code, claimed.status_code) == (404, 404)
    assert f"#{lead.id} " not in listed


def test_phone_is_masked_except_for_the_owner(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    sign_in_client(client, world.sales[0])

    page = client.get(f"/leads/{lead.id}").get_data(as_text=True)

    assert lead.phone not in page


def test_manager_assigns_and_the_salesperson_is_notified(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    csrf = sign_in_client(client, world.manager)

    page = client.get("/leads/manage?lang=en")
    response = client.post(
        "/leads/manage", data={"csrf_token": csrf, "lead": lead.id, "user": world.sales[1].id, "action": "assign"}
    )

    assert page.status_code == 200
    assert response.status_code == 302
    session.refresh(lead)
    assert lead.owner_id == world.sales[1].id
    kinds = session.scalars(select(Notification.kind).where(Notification.user_id == world.sales[1].id)).all()
    assert "leads.assigned" in kinds


def test_salesperson_may_not_open_the_manage_page(client, session):
    world = make_world(session)
    sign_in_client(client, world.sales[0])

    assert client.get("/leads/manage").status_code == 403


def test_funnel_page_and_csv_for_the_manager(client, session):
    world = make_world(session)
    pool_lead(session, world)
    sign_in_client(client, world.manager)

    page = client.get("/leads/funnel?lang=zh&by=region")
    csv = client.get("/leads/funnel.csv?period=week&by=region")
    bad = client.get("/leads/funnel?period=year")

    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    assert csv.mimetype == "text/csv" and "Henan" in csv.get_data(as_text=True)
    assert bad.status_code == 400


def test_inbox_shows_the_assignment_in_the_readers_language(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)

    assign_lead(session, world.manager, lead, world.sales[0], settings(), utcnow())
    sign_in_client(client, world.sales[0])

    home = client.get("/?lang=en").get_data(as_text=True)
    inbox = client.get("/inbox?lang=en").get_data(as_text=True)

    assert "Inbox: 1 unread" in home
    assert f"Lead {lead.id} (booking, grade" in inbox


def test_driver_opts_out_of_offers_in_one_tap(client, session):
    user, _customer = make_driver(session)
    csrf = sign_in_client(client, user)

    response = client.post("/leads/marketing?lang=en", data={"csrf_token": csrf})

    assert response.status_code == 200
    assert "no more offers" in response.get_data(as_text=True)
