"""Part records: the kept sale-price ranges and the public custody summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from app.clock import local_today
from app.db import SESSIONMAKER_KEY
from app.jobs import JOBS, execute_job
from app.security import Role
from milepost.jobs import load_all_tasks
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import make_organization, make_user
from tests.traceability.factories import keyring_for_tests, make_batch, part_path, part_url, record, stock_parts
from traceability.codes import parse_digital_link
from traceability.commissioning import list_batch_parts
from traceability.records import custody_summary, refresh_sale_price_ranges, sale_price_range, scan_page_records
from traceability.scan_render import warranty_status
from traceability.scan_storage import read_part
from traceability.verification import ClonePolicy, verify_scan

HTML = {"Accept": "text/html"}


def _sell_at(session, prices: list[str]):
    parts = list_batch_parts(session, make_batch(session, quantity=len(prices)))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts, dealer)
    for part, price in zip(parts, prices, strict=True):
        record(session, staff, "sell", [part], price=price)
    return parts


def test_refresh_keeps_the_tenth_to_ninetieth_percentile_of_sale_prices(session):
    parts = _sell_at(session, ["100.00", "110.00", "120.00", "130.00", "300.00"])

    kept = refresh_sale_price_ranges(session)

    assert kept == 1
    assert sale_price_range(session, parts[0].part_type_id) == {"p10": "104.00", "p90": "232.00", "sales": 5}


def test_price_range_needs_three_sales(session):
    parts = _sell_at(session, ["100.00", "110.00"])

    refresh_sale_price_ranges(session)

    assert sale_price_range(session, parts[0].part_type_id) is None


def test_scan_page_shows_the_kept_price_range(session, client):
    parts = _sell_at(session, ["100.00", "110.00", "120.00"])
    refresh_sale_price_ranges(session)

    page = client.get(part_path(parts[0]) + "&lang=en", headers=HTML).get_data(as_text=True)

    assert "¥102.00–¥118.00" in page


def test_custody_summary_lists_commissioning_then_each_stage(session):
    parts = _sell_at(session, ["100.00"])

    summary = custody_summary(session, parts[0])

    assert [stage["stage"] for stage in summary] == ["commissioning", "shipping", "receiving", "retail_selling"]
    assert summary[-1]["city"] == "Zhengzhou"
    assert all("price" not in stage for stage in summary)


def _page_scan(session, part, **changed):
    """Scan `part` for its page, as the public code URL does for a browser (the code's fields `changed`)."""
    policy = ClonePolicy(max_speed_kmh=150, max_cities=3, far_km=800, history=50, corroboration_scans=0)
    link = replace(parse_digital_link(part_url(part)), **changed)
    ring = keyring_for_tests()
    options = {"origin": PUBLIC_BASE_URL, "position": None, "intent": None, "actor": None, "policy": policy}
    return verify_scan(session, ring, link, page=True, **options)


def test_scan_page_records_list_the_commissioning_as_the_part_record_does(session):
    parts = _sell_at(session, ["100.00"])
    scanned = read_part(session, parts[0].gtin, parts[0].serial)

    _price_range, summary = scan_page_records(session, _page_scan(session, parts[0]))

    # The scan read carries the batch's commissioning time, by which the page finds that event.
    assert scanned.commissioned_at == parts[0].batch.commissioned_at
    assert summary == custody_summary(session, parts[0])
    assert summary[0]["stage"] == "commissioning" and summary[0]["city"] == "Jinan"


def test_the_page_scan_reads_what_the_separate_reads_give(session):
    parts = _sell_at(session, ["100.00", "110.00", "120.00"])
    refresh_sale_price_ranges(session)

    outcome = _page_scan(session, parts[1])

    # On PostgreSQL the scan's own two statements carried the page's reads; SQLite reads them afterwards.
    assert (outcome.page is not None) == (session.get_bind().dialect.name == "postgresql")
    price_range, summary = scan_page_records(session, outcome, "Asia/Shanghai")
    assert (
        price_range
        == sale_price_range(session, parts[1].part_type_id)
        == {"p10": "102.00", "p90": "118.00", "sales": 3}
    )
    assert summary == custody_summary(session, parts[1], "Asia/Shanghai")
    assert [stage["stage"] for stage in summary] == ["commissioning", "shipping", "receiving", "retail_selling"]


def test_the_page_scan_of_a_part_without_a_kept_range_or_events_of_its_own(session):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]

    price_range, summary = scan_page_records(session, _page_scan(session, part))

    assert price_range is None
    assert [stage["stage"] for stage in summary] == ["commissioning"]


def test_the_page_scan_of_a_real_part_under_a_forged_tag_shows_no_records(session):
    parts = _sell_at(session, ["100.00", "110.00", "120.00"])
    refresh_sale_price_ranges(session)

    outcome = _page_scan(session, parts[0], tag="AAAAAAAAAAAAAAAA")

    # A counterfeit verdict names no part, so the page shows neither the part's price range nor its journey.
    assert outcome.verdict == "counterfeit" and outcome.part is None
    assert scan_page_records(session, outcome) == (None, [])


def test_custody_summary_dates_are_local_dates_in_the_configured_time_zone(session):
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    dealer = make_organization(session, kind="dealer")
    # 17:30 UTC on 1 May is 01:30 on 2 May in Shanghai.
    late = datetime(2026, 5, 1, 17, 30, tzinfo=UTC)
    factory_staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, factory_staff, "ship", parts, to=dealer.code, occurred_at=late)

    def shipped(zone) -> str:
        return next(stage["date"] for stage in custody_summary(session, parts[0], zone) if stage["stage"] == "shipping")

    assert shipped({"TIMEZONE": "Asia/Shanghai"}) == "2026-05-02"
    assert shipped("UTC") == "2026-05-01"


def test_warranty_starts_on_the_local_date_of_installation():
    installed = datetime(2026, 1, 31, 17, 0, tzinfo=UTC)  # 1 February, 01:00 in Shanghai

    status = warranty_status(12, installed, date(2027, 2, 1), "Asia/Shanghai")

    assert status == {"from": "2026-02-01", "until": "2027-02-01", "active": True}
    assert local_today("Asia/Shanghai", now=installed) == date(2026, 2, 1)


def test_the_hourly_job_refreshes_the_price_ranges_scan_pages_show(app, session, client):
    load_all_tasks()
    parts = _sell_at(session, ["100.00", "110.00", "120.00"])
    assert sale_price_range(session, parts[0].part_type_id) is None

    run = execute_job(app.extensions[SESSIONMAKER_KEY], app.config, "traceability.refresh_sale_price_ranges")

    assert run.result == {"part_types": 1}
    assert JOBS["traceability.refresh_sale_price_ranges"].every == timedelta(hours=1)
    page = client.get(part_path(parts[0]) + "&lang=en", headers=HTML).get_data(as_text=True)
    assert "¥102.00–¥118.00" in page
