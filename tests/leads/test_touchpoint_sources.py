"""Touchpoints the leads domain collects: shop referrals, dealer walk-ins, campaign landings and CSV imports; each
becomes a lead through the same intake as a booking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.crm.models import Touchpoint
from app.db import utcnow
from app.security import Role
from leads.intake import take_in_touchpoints
from leads.models import Lead
from leads.rules import advance_leads
from leads.sources import WALK_IN_CONSENT_VERSION, create_campaign
from tests.factories import auth_header, make_customer, make_organization, make_user, make_vehicle, sign_in_client
from tests.leads.helpers import make_world, settings

PHONE = "13912345678"


def _touchpoints(session, channel):
    return session.scalars(select(Touchpoint).where(Touchpoint.channel == channel)).all()


def _form_token(client, path):
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_a_shop_referral_becomes_a_lead_in_the_dealers_pool(client, session):
    world = make_world(session, province="Henan")
    shop = make_organization(session, kind="shop", province="Hubei", name="武汉服务站")
    staff = make_user(session, Role.SHOP_STAFF, shop)
    vehicle = make_vehicle(session)
    body = {"dealer": world.dealer.code, "phone": PHONE, "vin": vehicle.vin, "interest": "extended_warranty",
            "agreed": True}  # fmt: skip

    response = client.post("/api/v1/leads/referrals", json=body, headers=auth_header(session, staff))
    taken = take_in_touchpoints(session, settings(), utcnow())

    assert response.status_code == 201, response.get_json()
    lead = session.scalars(select(Lead).where(Lead.phone == PHONE)).one()
    assert taken == 1
    assert (lead.channel, lead.pool_id, lead.interest, lead.vin) == (
        "shop_referral", world.pool.id, "extended_warranty", vehicle.vin,
    )  # fmt: skip


def test_a_referral_needs_the_drivers_agreement_and_a_shop(client, session):
    world = make_world(session)
    staff = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop"))
    body = {"dealer": world.dealer.code, "phone": PHONE, "interest": "parts", "agreed": False}

    refused = client.post("/api/v1/leads/referrals", json=body, headers=auth_header(session, staff))
    not_a_shop = client.post(
        "/api/v1/leads/referrals", json={**body, "agreed": True}, headers=auth_header(session, world.sales[0])
    )

    assert (refused.status_code, refused.get_json()["error"]["field"]) == (400, "agreed")
    assert not_a_shop.status_code == 403
    assert _touchpoints(session, "shop_referral") == []


def test_the_shop_console_form_refers_a_driver(client, session):
    world = make_world(session)
    staff = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop"))
    sign_in_client(client, staff)
    form = {"csrf_token": _form_token(client, "/leads/refer"), "dealer": world.dealer.code, "phone": PHONE,
            "vin": "", "interest": "parts", "agreed": "1"}  # fmt: skip

    response = client.post("/leads/refer", data=form)

    assert response.status_code == 302
    assert [touch.phone for touch in _touchpoints(session, "shop_referral")] == [PHONE]


def test_a_dealer_records_a_walk_in_with_the_offers_opt_in(client, session):
    world = make_world(session)
    sign_in_client(client, world.sales[0])
    form = {"csrf_token": _form_token(client, "/leads/walk-in"), "phone": PHONE, "vin": "", "interest": "new_truck",
            "offers": "1"}  # fmt: skip

    response = client.post("/leads/walk-in", data=form)
    bad = client.post("/leads/walk-in", data={**form, "phone": "12345"})

    assert response.status_code == 302
    assert bad.status_code == 400
    (touch,) = _touchpoints(session, "walk_in")
    assert (touch.consent_basis, touch.consent_text_version, touch.province) == (
        "marketing", WALK_IN_CONSENT_VERSION, world.dealer.province,
    )  # fmt: skip


def _campaign(session, world):
    return create_campaign(
        session, world.manager, world.dealer, "EW-2026", "延保限时优惠", "Extended warranty offer",
        "extended_warranty", "ew-consent-v3",
    )  # fmt: skip


def test_a_campaign_page_records_nothing_on_get(client, session):
    world = make_world(session)
    _campaign(session, world)
    before = session.scalar(select(func.count()).select_from(Touchpoint))

    page = client.get("/c/EW-2026", headers={"Accept-Language": "zh-CN"})
    missing = client.get("/c/NOPE-1")

    assert page.status_code == 200 and "延保限时优惠" in page.get_data(as_text=True)
    assert missing.status_code == 404
    assert session.scalar(select(func.count()).select_from(Touchpoint)) == before


def test_a_campaign_landing_needs_the_ticked_consent_and_keeps_its_version(client, session):
    world = make_world(session)
    _campaign(session, world)
    token = _form_token(client, "/c/EW-2026")

    unticked = client.post("/c/EW-2026", data={"csrf_token": token, "phone": PHONE})
    ticked = client.post("/c/EW-2026", data={"csrf_token": token, "phone": PHONE, "agreed": "1"})

    assert unticked.status_code == 400
    assert ticked.status_code == 302
    (touch,) = _touchpoints(session, "campaign")
    assert (touch.consent_basis, touch.consent_text_version, touch.source_id) == (
        "marketing", "ew-consent-v3", "EW-2026",
    )  # fmt: skip


def test_only_the_dealers_managers_open_campaigns(client, session):
    world = make_world(session)
    body = {"code": "FIN-1", "title_zh": "金融", "title_en": "Finance", "interest": "finance",
            "consent_text_version": "v1"}  # fmt: skip

    salesperson = client.post("/api/v1/leads/campaigns", json=body, headers=auth_header(session, world.sales[0]))
    manager = client.post("/api/v1/leads/campaigns", json=body, headers=auth_header(session, world.manager))

    assert salesperson.status_code == 403
    assert manager.status_code == 201 and manager.get_json()["url"] == "/c/FIN-1"


def test_import_names_every_bad_line_and_writes_nothing(app, session, tmp_path):
    path = tmp_path / "fair.csv"
    path.write_text("phone,province,consent_basis\n13912345678,Henan,service\n123,Henan,service\n"
                    "13912345679,Atlantis,marketing\n", encoding="utf-8")  # fmt: skip

    result = app.test_cli_runner().invoke(args=["crm", "import-touchpoints", str(path)])

    assert result.exit_code == 2
    assert "row 3: phone" in result.output
    assert "row 4: province" in result.output
    assert _touchpoints(session, "import") == []


def test_import_writes_one_touchpoint_per_row_with_progress(app, session, tmp_path):
    make_world(session)
    path = tmp_path / "old-customers.csv"
    path.write_text("phone,vin,kind,province,summary\n13912345678,,maintenance,Henan,bought a truck in 2022\n"
                    "13912345679,,parts,河南,asked for brake pads\n", encoding="utf-8")  # fmt: skip

    result = app.test_cli_runner().invoke(args=["crm", "import-touchpoints", str(path)])
    taken = take_in_touchpoints(session, settings(), utcnow())

    assert result.exit_code == 0, result.output
    assert "2/2 rows written" in result.output and "Imported 2 touchpoints" in result.output
    sources = [touch.source_id for touch in _touchpoints(session, "import")]
    assert sources == ["old-customers.csv:2", "old-customers.csv:3"]
    assert taken == 2


def _advance_past_the_next_opening(session):
    """Run the job's tick in working hours ten days on: every touchpoint taken in, every lead due dispatched."""
    _tick(session, utcnow() + timedelta(days=10))


def _tick(session, after):
    from service.calendars import next_opening

    rules = settings()
    advance_leads(session, rules, next_opening(rules.calendar, after) + timedelta(minutes=1))


def _second_dealer_over_the_same_territory(session, world):
    """A second dealer whose territory overlaps the first's (both hold Henan; the first pool is older)."""
    from leads.team import add_member, create_dealer_pool

    dealer = make_organization(session, kind="dealer", province="Henan", name="洛阳经销商")
    pool = create_dealer_pool(session, world.oem_admin, dealer, ["Henan", "Shaanxi"])
    manager = make_user(session, Role.DEALER_STAFF, dealer, display_name="洛阳经理")
    add_member(session, world.oem_admin, manager, "manager")
    return dealer, pool, manager


def test_a_referral_goes_to_the_named_dealers_pool_when_territories_overlap(client, session):
    world = make_world(session, province="Henan")
    dealer, pool, _ = _second_dealer_over_the_same_territory(session, world)
    staff = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop", province="Henan"))
    vin = make_vehicle(session, odometer_km=350_000).vin  # grade B: dispatched to sales at the next opening
    body = {"dealer": dealer.code, "phone": PHONE, "vin": vin, "interest": "parts", "agreed": True}

    response = client.post("/api/v1/leads/referrals", json=body, headers=auth_header(session, staff))
    _advance_past_the_next_opening(session)

    assert response.status_code == 201, response.get_json()
    lead = session.scalars(select(Lead).where(Lead.phone == PHONE)).one()
    assert (lead.stage, lead.pool_id) == ("sales", pool.id)
    assert pool.id != world.pool.id


def test_a_walk_in_and_a_campaign_landing_go_to_their_dealers_pool_when_territories_overlap(client, session):
    world = make_world(session, province="Henan")
    dealer, pool, manager = _second_dealer_over_the_same_territory(session, world)
    create_campaign(session, manager, dealer, "LY-1", "洛阳保养", "Luoyang service", "maintenance_plan", "ly-v1")
    sign_in_client(client, manager)
    walk_in = {"csrf_token": _form_token(client, "/leads/walk-in"), "phone": PHONE, "vin": "", "interest": "parts"}

    walked = client.post("/leads/walk-in", data=walk_in)
    landed = client.post(
        "/c/LY-1", data={"csrf_token": _form_token(client, "/c/LY-1"), "phone": "13912345679", "agreed": "1"}
    )
    _advance_past_the_next_opening(session)

    assert (walked.status_code, landed.status_code) == (302, 302)
    pools = dict(session.execute(select(Lead.phone, Lead.pool_id)).all())
    assert pools == {PHONE: pool.id, "13912345679": pool.id}


def test_a_referred_lead_woken_by_a_later_scan_stays_with_the_named_dealer(client, session):
    from leads.ownership import claim_lead, return_lead
    from leads.stages import move_stage
    from tests.leads.helpers import touch

    world = make_world(session, province="Henan")
    dealer, pool, manager = _second_dealer_over_the_same_territory(session, world)
    staff = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop", province="Henan"))
    customer = make_customer(session, phone=PHONE)
    client.post("/api/v1/leads/referrals", json={"dealer": dealer.code, "phone": PHONE, "interest": "parts",
                "agreed": True}, headers=auth_header(session, staff))  # fmt: skip
    rules, now = settings(), utcnow()
    take_in_touchpoints(session, rules, now)
    lead = session.scalars(select(Lead).where(Lead.phone == PHONE)).one()
    move_stage(session, manager, lead, "sales", rules, now)
    claim_lead(session, manager, lead, rules, now)
    return_lead(session, manager, lead, "unreachable", rules, now)

    later = now + timedelta(days=40)
    touch(session, customer, at=later, channel="scan", kind="parts", summary="scanned a genuine oil filter")
    _tick(session, later)

    session.refresh(lead)
    assert lead.reactivated_at is not None
    assert lead.pool_id == pool.id != world.pool.id


def test_a_manager_opens_lists_and_ends_campaigns_on_a_page(client, session):
    from app.crm.models import ActivityEntry

    world = make_world(session)
    sign_in_client(client, world.manager)
    empty = client.get("/leads/campaigns", headers={"Accept-Language": "zh-CN"})
    form = {"csrf_token": _form_token(client, "/leads/campaigns"), "action": "open", "code": "EW-2026",
            "title_zh": "延保限时优惠", "title_en": "Extended warranty offer", "interest": "extended_warranty",
            "consent_text_version": "ew-consent-v3"}  # fmt: skip

    opened = client.post("/leads/campaigns", data=form)
    client.post("/c/EW-2026", data={"csrf_token": form["csrf_token"], "phone": PHONE, "agreed": "1"})
    listed = client.get("/leads/campaigns", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    ended = client.post("/leads/campaigns", data={"csrf_token": form["csrf_token"], "action": "end", "code": "EW-2026"})
    again = client.post("/leads/campaigns", data={"csrf_token": form["csrf_token"], "action": "end", "code": "EW-2026"})
    after = client.get("/leads/campaigns?lang=en").get_data(as_text=True)

    assert empty.status_code == 200 and "还没有活动" in empty.get_data(as_text=True)
    assert opened.status_code == 302
    assert "延保限时优惠" in listed and "1 条留资" in listed and "结束活动" in listed
    assert ended.status_code == 302 and again.status_code == 409
    assert "ended" in after and "End the campaign" not in after
    assert client.get("/c/EW-2026").status_code == 404
    log = session.scalars(select(ActivityEntry.action).where(ActivityEntry.subject_type == "campaign")).all()
    assert sorted(log) == ["leads.campaign_created", "leads.campaign_ended"]


def test_campaigns_are_for_their_dealers_managers_and_the_oem(client, session):
    world = make_world(session)
    _campaign(session, world)
    other = make_world(session, province="Hubei")

    salesperson = client.get("/api/v1/leads/campaigns", headers=auth_header(session, world.sales[0]))
    stranger = client.post("/api/v1/leads/campaigns/EW-2026/end", headers=auth_header(session, other.manager))
    strangers_list = client.get("/api/v1/leads/campaigns", headers=auth_header(session, other.manager))
    oem = client.get("/api/v1/leads/campaigns", headers=auth_header(session, world.oem_admin))
    ended = client.post("/api/v1/leads/campaigns/EW-2026/end", headers=auth_header(session, world.oem_admin))
    sign_in_client(client, world.sales[0])
    page = client.get("/leads/campaigns")

    assert salesperson.status_code == 403 and page.status_code == 403
    assert stranger.status_code == 404 and strangers_list.get_json() == {"campaigns": []}
    assert [(found["code"], found["landings"]) for found in oem.get_json()["campaigns"]] == [("EW-2026", 0)]
    assert ended.status_code == 200 and ended.get_json()["active"] is False
