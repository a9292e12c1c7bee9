"""Scan verdicts: identity checks, clone signals, stored scans, alerts, and the public code URL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.security import Role
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.traceability.factories import activation_code, make_batch, part_path, part_url, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.models import Alert, Scan

JSON = {"Accept": "application/json"}
BEIJING = {"lat": 39.9042, "lon": 116.4074}
GUANGZHOU = {"lat": 23.1291, "lon": 113.2644}


@pytest.fixture
def parts(session):
    return list_batch_parts(session, make_batch(session, quantity=3))


@pytest.fixture(autouse=True)
def trust_every_position(request):
    """These tests are about the clone rules themselves: every scan's position counts (row 26 is tested in
    test_clone_corroboration.py). Only tests that use the app get it (race tests use their own engine)."""
    if "client" in request.fixturenames or "app" in request.fixturenames:
        request.getfixturevalue("app").config.update(CLONE_CORROBORATION_SCANS=0)


def scan(client, part_or_url, **fields):
    url = part_or_url if isinstance(part_or_url, str) else part_url(part_or_url)
    return client.post("/api/v1/scans", json={"url": url, **fields})


def test_fresh_part_is_genuine_with_factory_record(client, parts):
    response = scan(client, parts[0])

    assert response.status_code == 200
    assert response.json["verdict"] == "genuine"
    assert response.json["reasons"] == []
    assert response.json["factory_record"]["qc_result"] == "passed"


def test_public_url_returns_json_verdict_on_accept_header(client, parts):
    response = client.get(part_path(parts[0]), headers=JSON)

    assert response.json["verdict"] == "genuine"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda url: url[:-1] + ("A" if url[-1] != "A" else "B"),
        lambda url: url.replace("?c=B", "?c=A"),
        lambda url: url.split("?")[0] + "?c=AAAAAAAAAAAAAAAAA",
        lambda url: url.split("?")[0],
        lambda url: url.split("?")[0] + "?c=" + "Z" * 40,
    ],
    ids=["mutated", "other-key-id", "forged", "missing", "long"],
)
def test_forged_or_mutated_tags_are_counterfeit(session, client, parts, mutate):
    response = scan(client, mutate(part_url(parts[0])))

    assert response.json["verdict"] == "counterfeit"
    assert response.json["part"] is None
    assert session.scalar(select(func.count()).select_from(Alert)) >= 1


def test_unknown_serial_is_counterfeit(client, parts):
    url = part_url(parts[0]).replace(parts[0].serial, "0000000000AA")

    assert scan(client, url).json["reasons"] == ["bad_tag", "unknown_serial"]


def test_foreign_origin_is_counterfeit(client, parts):
    url = part_url(parts[0]).replace("https://mp.test", "https://mp-verify.example")

    assert scan(client, url).json["reasons"] == ["foreign_origin"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/01/06909999000011/21/ABC?c=A", "gtin"),
        ("/01/06909999000012/21/" + "A" * 21 + "?c=A", "serial"),
        ("/01/06909999000012/21/AB%23C?c=A", "serial"),
        ("/01/06909999000012/21/", "serial"),
        ("/01/06909999000012", "url"),
    ],
)
def test_malformed_codes_are_400_on_the_api(client, path, field):
    response = client.post("/api/v1/scans", json={"url": "https://mp.test" + path})

    assert response.status_code == 400
    assert response.json["error"]["field"] == field


@pytest.mark.parametrize(
    "path", ["/01/06909999000011/21/ABC?c=A", "/01/06909999000012/21/" + "A" * 21, "/01/6909999000012/21/AB%23C"]
)
def test_malformed_codes_are_counterfeit_on_the_public_url(client, path):
    response = client.get(path, headers=JSON)

    assert response.status_code == 200
    assert response.json["verdict"] == "counterfeit"
    assert response.json["reasons"] == ["malformed_code"]


def test_truncated_public_url_is_not_found(client):
    assert client.get("/01/06909999000012/21/").status_code == 404


def test_gtin13_and_gs1_attributes_are_accepted(client, parts):
    path = part_path(parts[0]).replace(parts[0].gtin, parts[0].gtin[1:]) + "&10=LOT1&11=260301&99=zz"

    assert client.get(path, headers=JSON).json["verdict"] == "genuine"


@pytest.mark.parametrize(("lat", "lon", "field"), [("north", 116.0, "lat"), (95, 116.0, "lat"), (39.9, None, "lon")])
def test_malformed_coordinates_are_400(session, client, parts, lat, lon, field):
    response = scan(client, parts[0], lat=lat, lon=lon)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert session.scalar(select(func.count()).select_from(Scan)) == 0


def test_scans_are_stored_with_coarsened_location_and_city(session, client, parts):
    scan(client, parts[0], lat=39.904213, lon=116.407413)

    stored = session.scalar(select(Scan))
    assert (stored.lat, stored.lon) == (39.9, 116.41)
    assert stored.province == "Beijing"


def test_impossible_travel_is_suspect_and_alerted_once(session, client, parts):
    scan(client, parts[0], **BEIJING)
    first = scan(client, parts[0], **GUANGZHOU)
    scan(client, parts[0], **BEIJING)

    assert first.json["verdict"] == "suspect"
    assert "impossible_travel" in first.json["reasons"]
    alert = session.scalar(select(Alert).where(Alert.cause == "impossible_travel"))
    assert alert.occurrences == 2
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.cause == "impossible_travel")) == 1


def test_scans_in_many_cities_before_installation_are_suspect(session, client, app, parts):
    app.config["CLONE_MAX_SPEED_KMH"] = 10**9
    cities = [(36.67, 117.0), (34.75, 113.62), (30.59, 114.3), (32.06, 118.79)]
    verdicts = [scan(client, parts[0], lat=lat, lon=lon).json for lat, lon in cities]

    assert [item["verdict"] for item in verdicts[:3]] == ["genuine"] * 3
    assert "many_cities" in verdicts[3]["reasons"]


def test_scan_far_from_custody_chain_is_suspect(client, parts):
    response = scan(client, parts[0], lat=43.82, lon=87.61)

    assert response.json["verdict"] == "suspect"
    assert response.json["reasons"] == ["far_from_chain"]


@pytest.fixture
def installed(session, parts):
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts[:1], dealer)
    vehicle = make_vehicle(session)
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    return parts[0], vehicle, staff


def test_installed_part_shows_masked_vehicle_and_warranty(client, installed):
    part, vehicle, _staff = installed

    body = scan(client, part).json

    assert body["verdict"] == "installed"
    assert body["installed"]["vin"] == vehicle.vin[:3] + "**********" + vehicle.vin[-4:]
    assert vehicle.vin not in str(body)
    assert body["warranty"]["active"] is True


def test_installed_part_shows_the_installers_rating_and_tier(session, client, installed):
    from decimal import Decimal

    from app.crm.models import Organization

    part, _vehicle, staff = installed
    installer = session.get(Organization, staff.organization_id)
    installer.rating, installer.rating_count, installer.certification_tier = Decimal("4.40"), 12, "gold"
    session.flush()

    body = scan(client, part).json
    page = client.get(part_path(part) + "&lang=en").get_data(as_text=True)

    assert body["installed"]["installer"]["rating"] == 4.4
    assert body["installed"]["installer"]["certification_tier"] == "gold"
    assert "Gold certified shop" in page and "rated 4.4 from 12 reviews" in page


def test_installed_part_offered_for_sale_is_suspect(client, installed):
    body = scan(client, installed[0], intent="buy").json

    assert body["verdict"] == "suspect"
    assert body["reasons"] == ["offered_after_install"]


def test_second_activation_attempt_makes_part_suspect(session, client, installed):
    part, _vehicle, staff = installed
    response = client.post(
        "/api/v1/events",
        json={"type": "install", "parts": [part_url(part)], "vin": make_vehicle(session).vin, "activation_code": "X"},
        headers=auth_header(session, staff),
    )

    body = scan(client, part).json

    assert response.status_code == 409
    assert body["verdict"] == "suspect"
    assert "activation_after_install" in body["reasons"]


def test_destroyed_part_is_void(session, client, parts):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, staff, "destroy", parts[:1])

    body = scan(client, parts[0]).json

    assert body["verdict"] == "void"


def test_scan_stats_count_by_province_and_verdict(session, client, parts):
    scan(client, parts[0], **BEIJING)
    scan(client, part_url(parts[1])[:-2] + "00")
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    body = client.get("/api/v1/scans/stats", headers=headers).json

    assert body["totals"] == {"genuine": 1, "counterfeit": 1}
    assert {"province": "Beijing", "verdicts": {"genuine": 1}} in body["provinces"]


def test_alerts_list_and_status_change(session, client, parts):
    scan(client, part_url(parts[1])[:-2] + "00")
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    alert_id = client.get("/api/v1/alerts?status=open", headers=headers).json["items"][0]["id"]

    response = client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "investigating"}, headers=headers)

    assert response.json["status"] == "investigating"


def test_scan_page_is_chinese_by_default_small_and_switches_to_english(client, parts):
    chinese = client.get(part_path(parts[0]))
    english = client.get(part_path(parts[0]) + "&lang=en")

    stylesheet = client.get("/static/milepost.css")
    stylesheet_size = len(stylesheet.data)
    stylesheet.close()

    assert "正品配件" in chinese.text
    assert "Genuine part" in english.text
    assert len(chinese.data) + stylesheet_size < 100_000


def test_report_a_problem_creates_alert_for_the_part(session, client, parts):
    page = client.get(part_path(parts[0]))
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]

    response = client.post(
        part_path(parts[0]).split("?")[0] + "/report",
        data={"csrf_token": token, "problem": "overpriced", "message": "¥900 at a roadside stall"},
    )

    assert response.status_code == 302
    alert = session.scalar(select(Alert).where(Alert.cause == "reported_overpriced"))
    assert alert.part_id == parts[0].id


def test_every_report_on_a_part_is_kept_and_shown_in_the_alert(session, client, parts):
    path = part_path(parts[0])
    for message, where in (("¥900 at a roadside stall", BEIJING), ("sold as new, had scratches", None)):
        page = client.get(path + (f"&lat={where['lat']}&lon={where['lon']}" if where else ""))
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "problem": "overpriced", "message": message}
        if where:
            form.update(lat=str(where["lat"]), lon=str(where["lon"]))
        client.post(path.split("?")[0] + "/report", data=form)
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    alert = client.get("/api/v1/alerts?cause=reported_overpriced", headers=headers).json["items"][0]

    reports = alert["reports"]
    assert [report["message"] for report in reports] == ["¥900 at a roadside stall", "sold as new, had scratches"]
    assert (reports[0]["city"], reports[0]["province"]) == ("Beijing", "Beijing")
    assert reports[1]["city"] is None
    assert all(report["at"] for report in reports)
    assert alert["occurrences"] == 2


def test_report_without_csrf_is_refused(session, client, parts):
    response = client.post(part_path(parts[0]).split("?")[0] + "/report", data={"problem": "other"})

    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_clone_alert_keeps_part_suspect_until_oem_closes_it(session, client, parts):
    scan(client, parts[0], **BEIJING)
    scan(client, parts[0], **GUANGZHOU)
    later = scan(client, parts[0]).json["verdict"]
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    for alert_id in session.scalars(select(Alert.id).where(Alert.part_id == parts[0].id)).all():
        client.patch(f"/api/v1/alerts/{alert_id}", json={"status": "closed", "note": "same driver"}, headers=headers)

    cleared = scan(client, parts[0]).json["verdict"]

    assert (later, cleared) == ("suspect", "genuine")


def _scan_fake_codes(client, count, address):
    paths = [f"/01/06901234000016/21/FAKE{number:04d}?c=A{'0' * 16}" for number in range(count)]
    for path in paths:
        client.get(path, headers=JSON, environ_base={"REMOTE_ADDR": address})
    return [path.split("/")[4].split("?")[0] for path in paths]


def test_counterfeit_scans_beyond_a_clients_budget_fold_into_one_flood_alert(session, app, client):
    app.config["COUNTERFEIT_ALERTS_PER_CLIENT_HOUR"] = 2

    serials = _scan_fake_codes(client, 5, "203.0.113.9")

    alerts = session.scalars(select(Alert)).all()
    flood = [alert for alert in alerts if alert.cause == "counterfeit_flood"]
    assert {alert.serial for alert in alerts if alert.cause != "counterfeit_flood"} == set(serials[:2])
    assert len(flood) == 1 and flood[0].occurrences == 3
    assert flood[0].details["client_network"] == "203.0.113.0/24"
    assert flood[0].details["last_code"] == f"06901234000016|{serials[-1]}"
    assert "203.0.113.9" not in str(flood[0].details)
    verdicts = session.scalars(select(Scan.verdict).where(Scan.serial.in_(serials))).all()
    assert verdicts == ["counterfeit"] * 5


def test_counterfeit_budget_is_per_client_address(session, app, client):
    app.config["COUNTERFEIT_ALERTS_PER_CLIENT_HOUR"] = 2
    _scan_fake_codes(client, 3, "203.0.113.9")

    _scan_fake_codes(client, 1, "198.51.100.20")

    floods = session.scalars(select(Alert).where(Alert.cause == "counterfeit_flood")).all()
    assert [alert.details["client_network"] for alert in floods] == ["203.0.113.0/24"]
    assert session.scalar(select(func.count()).select_from(Alert).where(Alert.serial == "FAKE0000")) >= 2
