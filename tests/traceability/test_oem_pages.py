"""The OEM's traceability pages: alert list filters and paging, alert detail and status changes, recalls and the
call center's CSV, scan statistics."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.security import Role
from tests.factories import auth_header, make_organization, make_user, make_vehicle, sign_in_client
from tests.traceability.factories import activation_code, make_batch, make_part_type, record, stock_parts
from traceability.alerts import raise_alert
from traceability.commissioning import list_batch_parts
from traceability.models import Alert, AlertStatus, ProblemReport, Recall, Scan

NOTICE = {"notice_zh": "刹车片可能开裂，请尽快更换。", "notice_en": "Brake pads may crack; replace them."}


@pytest.fixture
def oem(session):
    return make_user(session, Role.OEM_ADMIN, display_name="王经理")


@pytest.fixture
def oem_client(client, oem):
    csrf = sign_in_client(client, oem)
    client.csrf = csrf
    return client


def listed_alerts(response) -> list[int]:
    return [int(number) for number in re.findall(r'data-alert="(\d+)"', response.get_data(as_text=True))]


def _alerts(session) -> dict[str, int]:
    henan = make_organization(session, kind="shop", province="Henan")
    hebei = make_organization(session, kind="dealer", province="Hebei")
    return {
        "henan_bad_tag": raise_alert(session, "bad_tag", gtin="06909999000011", serial="A1", organization_id=henan.id),
        "hebei_bad_tag": raise_alert(session, "bad_tag", gtin="06909999000011", serial="A2", organization_id=hebei.id),
        "scan_in_shanxi": raise_alert(
            session,
            "unknown_serial",
            gtin="06909999000011",
            serial="A3",
            organization_id=henan.id,
            details={"province": "Shanxi"},
        ),
        "nowhere": raise_alert(session, "unknown_serial", gtin="06909999000011", serial="A4"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cause=bad_tag", {"henan_bad_tag", "hebei_bad_tag"}),
        ("province=Henan", {"henan_bad_tag"}),
        ("province=Shanxi", {"scan_in_shanxi"}),
        ("province=unknown", {"nowhere"}),
        ("status=closed", {"hebei_bad_tag"}),
        ("status=open&cause=unknown_serial", {"scan_in_shanxi", "nowhere"}),
        ("", {"henan_bad_tag", "hebei_bad_tag", "scan_in_shanxi", "nowhere"}),
    ],
)
def test_alert_list_filters_by_status_cause_and_province(session, oem, oem_client, query, expected):
    ids = _alerts(session)
    session.get(Alert, ids["hebei_bad_tag"]).status = AlertStatus.CLOSED
    session.flush()

    response = oem_client.get(f"/oem/alerts?{query}")

    assert response.status_code == 200
    assert set(listed_alerts(response)) == {ids[name] for name in expected}


def test_alert_list_pages_newest_first(session, oem_client):
    ids = sorted(_alerts(session).values())
    for number, alert_id in enumerate(ids):
        session.get(Alert, alert_id).last_seen_at = datetime(2026, 12, 1, 8, number, tzinfo=UTC)
    session.flush()

    first = oem_client.get("/oem/alerts?per_page=3")
    second = oem_client.get("/oem/alerts?per_page=3&page=2")

    assert listed_alerts(first) == list(reversed(ids))[:3]
    assert listed_alerts(second) == [ids[0]]
    assert "第 1 页，共 2 页" in first.get_data(as_text=True) or 'rel="next"' in first.get_data(as_text=True)


def test_alert_detail_shows_every_report_and_scan(session, oem_client):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]
    alert_id = raise_alert(session, "reported_counterfeit", part=part, details={"problem": "counterfeit"})
    for message in ("标签模糊", "价格太低"):
        session.add(ProblemReport(alert_id=alert_id, part_id=part.id, problem="counterfeit", message=message))
    for verdict in ("genuine", "suspect"):
        session.add(Scan(part_id=part.id, gtin=part.gtin, serial=part.serial, verdict=verdict, reasons=[]))
    session.add(Scan(part_id=None, gtin=part.gtin, serial="OTHER", verdict="counterfeit", reasons=["unknown_serial"]))
    session.flush()

    page = oem_client.get(f"/oem/alerts/{alert_id}").get_data(as_text=True)

    assert page.count("data-report=") == 2
    assert "标签模糊" in page and "价格太低" in page
    assert re.findall(r'<td><span class="verdict-badge (\w+)"', page) == ["suspect", "genuine"]


def test_closing_an_alert_with_a_note_is_in_the_activity_log(session, oem, oem_client):
    alert_id = raise_alert(session, "bad_tag", gtin="06909999000011", serial="B1")

    response = oem_client.post(
        f"/oem/alerts/{alert_id}/status",
        data={"csrf_token": oem_client.csrf, "status": "closed", "note": "假标签已没收"},
    )

    assert response.status_code == 302
    assert session.get(Alert, alert_id).status == AlertStatus.CLOSED
    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "traceability.alert_status_changed"))
    assert (entry.actor_id, entry.subject_id) == (oem.id, str(alert_id))
    assert entry.details == {"from": "open", "to": "closed", "note": "假标签已没收"}
    page = oem_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "假标签已没收" in page and "王经理" in page


def test_an_unknown_status_is_a_400_naming_the_field(session, oem_client):
    alert_id = raise_alert(session, "bad_tag", gtin="06909999000011", serial="B2")

    response = oem_client.post(
        f"/oem/alerts/{alert_id}/status", data={"csrf_token": oem_client.csrf, "status": "done", "note": ""}
    )

    assert response.status_code == 400
    assert 'data-field="status"' in response.get_data(as_text=True)
    assert session.get(Alert, alert_id).status == AlertStatus.OPEN


@pytest.mark.parametrize("role", [Role.SHOP_STAFF, Role.DRIVER, Role.DEALER_STAFF])
def test_only_the_oem_sees_and_changes_alerts(session, client, role):
    alert_id = raise_alert(session, "bad_tag", gtin="06909999000011", serial="B3")
    csrf = sign_in_client(client, make_user(session, role))

    listing = client.get("/oem/alerts")
    detail = client.get(f"/oem/alerts/{alert_id}")
    change = client.post(f"/oem/alerts/{alert_id}/status", data={"csrf_token": csrf, "status": "closed"})

    assert (listing.status_code, detail.status_code, change.status_code) == (403, 403, 403)
    assert session.get(Alert, alert_id).status == AlertStatus.OPEN
    assert session.scalar(select(ActivityEntry.id).where(ActivityEntry.subject_type == "alert")) is None


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/oem/alerts")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def _installed_batch(session, quantity: int = 2):
    """Return a batch whose first part is installed on a vehicle, and that vehicle."""
    batch = make_batch(session, quantity=quantity)
    parts = list_batch_parts(session, batch)
    staff = stock_parts(session, parts, make_organization(session, kind="shop"))
    vehicle = make_vehicle(session, plate="豫A12345")
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    return batch, parts, vehicle


def create_recall_page(client, **fields):
    return client.post("/oem/recalls", data={"csrf_token": client.csrf, **NOTICE, **fields})


def test_recall_by_batch_from_the_page_shows_the_affected_truck_with_a_masked_phone(session, oem_client):
    batch, _parts, vehicle = _installed_batch(session)

    response = create_recall_page(oem_client, scope="batch", batch=batch.lot.lower())

    assert response.status_code == 302
    recall = session.scalar(select(Recall))
    assert recall.part_count == 2
    page = oem_client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.findall(r'data-vin="(\w+)"', page) == [vehicle.vin]
    phone = vehicle.owner.phone
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page


def test_recall_by_part_type_and_dates_and_by_serial_lines(session, oem_client):
    part_type = make_part_type(session)
    early = make_batch(session, quantity=2, part_type=part_type, production_date=datetime(2026, 1, 5).date())
    make_batch(session, quantity=2, part_type=part_type, production_date=datetime(2026, 3, 5).date())
    other = list_batch_parts(session, make_batch(session, quantity=3))

    by_type = create_recall_page(
        oem_client,
        scope="part_type",
        part_number=part_type.part_number,
        produced_from="2026-01-01",
        produced_to="2026-01-31",
        batch="IGNORED",
    )
    by_serials = create_recall_page(
        oem_client, scope="serials", serials=f"{other[0].gtin} {other[0].serial}\n\n{other[2].gtin},{other[2].serial}\n"
    )

    assert (by_type.status_code, by_serials.status_code) == (302, 302)
    counts = {recall.scope: recall.part_count for recall in session.scalars(select(Recall))}
    assert counts == {"part_type": 2, "serials": 2}
    assert all(part.recall_id is not None for part in list_batch_parts(session, early))


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"scope": ""}, 400, "scope"),
        ({"scope": "batch", "batch": ""}, 400, "batch"),
        ({"scope": "batch", "batch": "NO-SUCH-LOT"}, 404, "batch"),
        ({"scope": "part_type", "part_number": ""}, 400, "part_number"),
        ({"scope": "part_type", "part_number": "X", "produced_from": "1 May"}, 400, "produced_from"),
        ({"scope": "serials", "serials": "only-one-piece"}, 400, "serials[1]"),
        ({"scope": "serials", "serials": "   "}, 400, "serials"),
        ({"scope": "batch", "notice_zh": " "}, 400, "notice_zh"),
        ({"scope": "batch", "notice_en": ""}, 400, "notice_en"),
    ],
)
def test_recall_form_names_the_bad_field(session, oem_client, fields, status, field):
    batch = make_batch(session, quantity=1)
    fields = {"batch": batch.lot, **fields}

    response = create_recall_page(oem_client, **fields)

    assert response.status_code == status
    assert f'data-field="{field}"' in response.get_data(as_text=True)
    assert session.scalar(select(Recall.id)) is None


def test_recall_contacts_csv_has_the_call_center_columns_and_is_logged(session, oem, oem_client):
    batch, parts, vehicle = _installed_batch(session)
    create_recall_page(oem_client, scope="batch", batch=batch.lot)
    code = session.scalar(select(Recall.code))

    response = oem_client.post(f"/oem/recalls/{code}/contacts.csv", data={"csrf_token": oem_client.csrf})

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert list(rows[0]) == [
        "recall", "vin", "plate", "owner", "phone", "part_number", "gtin", "serial", "installed_at",
    ]  # fmt: skip
    assert [(row["vin"], row["phone"], row["serial"]) for row in rows] == [
        (vehicle.vin, vehicle.owner.phone, parts[0].serial)
    ]
    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "traceability.recall_contacts_exported"))
    assert (entry.actor_id, entry.subject_id, entry.details) == (oem.id, code, {"rows": 1})


def test_recalls_are_listed_by_the_api_and_the_page(session, client, oem, oem_client):
    batch = make_batch(session, quantity=1)
    create_recall_page(oem_client, scope="batch", batch=batch.lot)
    code = session.scalar(select(Recall.code))

    body = client.get("/api/v1/recalls", headers=auth_header(session, oem)).json
    page = oem_client.get("/oem/recalls").get_data(as_text=True)

    assert [item["code"] for item in body["items"]] == [code]
    assert body["items"][0]["batch"] == batch.lot
    assert f'data-recall="{code}"' in page


def test_only_the_oem_lists_recalls(session, client):
    shop = make_user(session, Role.SHOP_STAFF)

    assert client.get("/api/v1/recalls", headers=auth_header(session, shop)).status_code == 403


def test_scan_statistics_page_counts_by_province_and_local_days(session, oem_client):
    # 2026-11-30 23:30 in Shanghai is 15:30 UTC: it belongs to the 30th, not to December.
    for when, province, verdict in [
        (datetime(2026, 11, 30, 15, 30, tzinfo=UTC), "Henan", "genuine"),
        (datetime(2026, 11, 30, 16, 30, tzinfo=UTC), "Henan", "counterfeit"),
        (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), "Henan", "genuine"),
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), None, "suspect"),
    ]:
        session.add(Scan(verdict=verdict, reasons=[], province=province, scanned_at=when))
    session.flush()

    page = oem_client.get("/oem/scans?since=2026-12-01&until=2026-12-01").get_data(as_text=True)

    henan = re.search(r'<tr data-province="Henan">(.*?)</tr>', page).group(1)
    assert re.findall(r"<td>(\d+)</td>", henan) == ["1", "0", "0", "0", "0", "1", "2"]
    assert 'data-province="unknown"' in page
