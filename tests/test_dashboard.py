"""The OEM dashboard: each figure on a small hand-made data set equals what one counts by hand."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.jobs import JobContext, JobRun
from app.security import Role
from milepost import dashboard
from network.models import AssistanceRequest, CoverageRollup
from network.tasks import refresh_coverage
from reviews.models import CertificationState
from reviews.plaques import decline_request, find_open_request, request_reissue
from tests.factories import PAGE_CSRF, make_customer, make_organization, make_user, make_vehicle, sign_in_client
from tests.network.factories import load_highways, make_shop
from traceability.alerts import raise_alert
from traceability.models import Alert, AlertStatus, Scan

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD = dashboard.Period.ending(date(2026, 12, 3), 3, SHANGHAI)


def scan(session, when: datetime, verdict: str, lat: float | None = None, lon: float | None = None) -> None:
    session.add(Scan(verdict=verdict, reasons=[], scanned_at=when, lat=lat, lon=lon))
    session.flush()


def test_scans_per_day_counts_local_days(session):
    # Local midnight in Shanghai is 16:00 UTC the day before.
    scan(session, datetime(2026, 11, 30, 15, 59, tzinfo=UTC), "genuine")  # 11-30 23:59 local: before the period
    scan(session, datetime(2026, 11, 30, 16, 30, tzinfo=UTC), "genuine")  # 12-01 00:30 local
    scan(session, datetime(2026, 12, 1, 4, 0, tzinfo=UTC), "genuine")
    scan(session, datetime(2026, 12, 1, 5, 0, tzinfo=UTC), "counterfeit")
    scan(session, datetime(2026, 12, 2, 5, 0, tzinfo=UTC), "suspect")
    scan(session, datetime(2026, 12, 2, 16, 30, tzinfo=UTC), "genuine")  # 12-03 00:30 local
    scan(session, datetime(2026, 12, 3, 16, 0, tzinfo=UTC), "genuine")  # 12-04 00:00 local: after

    rows = dashboard.scans_per_day(session, PERIOD)

    assert [(row["day"].isoformat(), row["verdicts"], row["total"]) for row in rows] == [
        ("2026-12-01", {"genuine": 2, "counterfeit": 1}, 3),
        ("2026-12-02", {"suspect": 1}, 1),
        ("2026-12-03", {"genuine": 1}, 1),
    ]


def test_open_alerts_by_cause_and_province(session):
    henan = make_organization(session, kind="shop", province="Henan")
    raise_alert(session, "bad_tag", gtin="06909999000011", serial="A1", organization_id=henan.id)
    raise_alert(session, "bad_tag", gtin="06909999000011", serial="A2", details={"province": "Hebei"})
    # The scan's province wins over the organization's.
    raise_alert(
        session,
        "many_cities",
        gtin="06909999000011",
        serial="A3",
        organization_id=henan.id,
        details={"province": "Hebei"},
    )
    raise_alert(session, "impossible_travel", gtin="06909999000011", serial="A4")
    closed = raise_alert(session, "bad_tag", gtin="06909999000011", serial="A5", organization_id=henan.id)
    session.get(Alert, closed).status = AlertStatus.CLOSED
    session.flush()

    figures = dashboard.open_alerts(session)

    assert figures["total"] == 4
    assert figures["by_cause"] == [("bad_tag", 2), ("impossible_travel", 1), ("many_cities", 1)]
    assert figures["by_province"] == [("Hebei", 2), ("Henan", 1), ("unknown", 1)]
    assert figures["cells"][("bad_tag", "Hebei")] == 1


def test_tier_distribution_counts_active_shops_by_their_reviews_tier(session):
    tiers = ["gold", "gold", "watch", None]
    for tier in tiers:
        shop = make_shop(session)
        if tier:
            session.add(CertificationState(shop_id=shop.id, tier=tier, pending_count=0, pending_reason="", kpis={}))
    closed = make_shop(session, status="closed")
    session.add(
        CertificationState(
            shop_id=closed.id, tier="gold", pending_tier="probation", pending_count=1, pending_reason="", kpis={}
        )
    )
    session.flush()

    assert dashboard.tier_distribution(session) == [("gold", 2), ("watch", 1), ("none", 1)]
    assert dashboard.pending_certification_changes(session) == 1


def test_roadside_escalations_count_and_oldest_wait(session):
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    customer = make_customer(session)
    vehicle = make_vehicle(session, owner=customer)
    for status, minutes in (("escalated", 50), ("escalated", 10), ("open", 90), ("completed", 300)):
        session.add(
            AssistanceRequest(
                customer_id=customer.id,
                vehicle_id=vehicle.id,
                lat=34.7,
                lon=113.6,
                description="爆胎",
                status=status,
                radius_km=30,
                created_at=now - timedelta(minutes=minutes),
            )
        )
    session.flush()

    assert dashboard.roadside_escalations(session, now) == {"open": 2, "oldest_minutes": 50}


def test_job_health_names_the_jobs_whose_last_run_failed(app, session):
    # The app declares the jobs (each domain's tasks.py).
    now = datetime.now(UTC)
    session.add_all(
        [
            JobRun(
                name="core.prune_attempts", trigger="periodic", state="succeeded", queued_at=now - timedelta(hours=2)
            ),
            JobRun(name="core.prune_attempts", trigger="periodic", state="failed", queued_at=now - timedelta(hours=1)),
            JobRun(name="core.prune_job_runs", trigger="periodic", state="failed", queued_at=now - timedelta(hours=3)),
            JobRun(
                name="core.prune_job_runs", trigger="periodic", state="succeeded", queued_at=now - timedelta(hours=1)
            ),
        ]
    )
    session.flush()

    health = dashboard.job_health(session, now)

    assert health["failing"] == ["core.prune_attempts"]
    assert health["failures_24h"] == 2


def test_scan_cells_group_located_scans_and_take_the_worst_verdict(session):
    inside = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    scan(session, inside, "genuine", 34.71, 113.62)
    scan(session, inside, "counterfeit", 34.74, 113.64)
    scan(session, inside, "genuine", 36.12, 117.01)
    scan(session, inside, "suspect", None, None)
    scan(session, datetime(2026, 11, 1, tzinfo=UTC), "counterfeit", 36.12, 117.01)

    cells = dashboard.scan_cells(session, PERIOD)

    assert [(cell["lat"], cell["lon"], cell["total"], cell["worst"]) for cell in cells] == [
        (34.7, 113.6, 2, "counterfeit"),
        (36.1, 117.0, 1, "genuine"),
    ]


def test_dashboard_page_shows_the_figures(session, client):
    oem = make_user(session, Role.OEM_ADMIN)
    raise_alert(session, "bad_tag", gtin="06909999000011", serial="A1")
    scan(session, datetime.now(UTC), "genuine", 34.71, 113.62)
    sign_in_client(client, oem)

    response = client.get("/oem")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-figure="scans_today">(\d+)<', page).group(1) == "1"
    assert re.search(r'data-figure="open_alerts">(\d+)<', page).group(1) == "1"
    assert 'data-key="bad_tag" data-value="1"' in page
    assert "<svg" in page and "<script>" not in page


def test_dashboard_counts_pending_plaque_requests_and_links_to_the_queue(session, client):
    first, second = make_shop(session, code="S-PQ1"), make_shop(session, code="S-PQ2")
    for shop in (first, second):
        request_reissue(
            session,
            make_user(session, Role.SHOP_STAFF, organization=shop.organization),
            shop,
            "lost",
            "",
            datetime.now(UTC),
        )
    decline_request(
        session, make_user(session, Role.OEM_ADMIN), find_open_request(session, second), "不需要", datetime.now(UTC)
    )
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get("/oem").get_data(as_text=True)

    figure = re.search(r'<a href="([^"]+)"><span class="figure" data-figure="plaque_requests">(\d+)<', page)
    assert figure.group(2) == "1"
    assert figure.group(1) == "/certification/board#plaque-requests-title"
    assert 'id="plaque-requests-title"' in client.get(figure.group(1)).get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF, Role.FACTORY_STAFF])
def test_dashboard_is_for_the_oem_only(session, client, role):
    sign_in_client(client, make_user(session, role))

    assert client.get("/oem").status_code == 403


def test_oem_lands_on_the_dashboard_after_signing_in(session, client):
    oem = make_user(session, Role.OEM_ADMIN)
    driver = make_user(session, Role.DRIVER)
    landings = {}
    for user in (oem, driver):
        client.get("/login")
        with client.session_transaction() as cookie:
            cookie["csrf"] = PAGE_CSRF
        response = client.post(
            "/login?next=/", data={"csrf_token": PAGE_CSRF, "login": user.login, "password": "correct-horse-9"}
        )
        landings[user.role] = response.headers["Location"]

    assert landings == {Role.OEM_ADMIN: "/oem", Role.DRIVER: "/"}


def test_every_declared_job_has_a_name_in_the_pages_language(app):
    # The dashboard's job table shows each job by a translated label; a job without one showed its code name
    # ("community.flag_overdue_reports") on a Chinese page.
    from app.jobs import JOBS
    from milepost.dashboard_pages import JOB_LABELS

    assert sorted(set(JOBS) - set(JOB_LABELS)) == []


def test_dashboard_shows_the_coverage_the_worker_kept_with_its_age(session, client, app):
    routes = load_highways(session)
    make_shop(session, routes, certification_tier="certified")
    with app.app_context():
        refresh_coverage(JobContext(session, app.config, datetime.now(UTC) - timedelta(minutes=7)))
    kept = session.scalars(select(CoverageRollup)).one()
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get("/oem").get_data(as_text=True)

    assert 0 < kept.percent < 100
    assert re.search(r'data-figure="coverage">([\d.]+) %<', page).group(1) == f"{kept.percent:.1f}"
    assert re.search(r'data-figure="coverage_age">[^<]*\b7\b', page)


def test_dashboard_before_the_first_coverage_run_says_so_and_computes_nothing(session, client):
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get("/oem").get_data(as_text=True)

    assert 'data-figure="coverage">–<' in page
    assert session.scalar(select(func.count()).select_from(CoverageRollup)) == 0
