"""Part records: the kept sale-price ranges and the public custody summary."""

from __future__ import annotations

from datetime import timedelta

from app.db import SESSIONMAKER_KEY
from app.jobs import JOBS, execute_job
from milepost.jobs import load_all_tasks
from tests.factories import make_organization
from tests.traceability.factories import make_batch, part_path, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.records import custody_summary, refresh_sale_price_ranges, sale_price_range

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


def test_the_hourly_job_refreshes_the_price_ranges_scan_pages_show(app, session, client):
    load_all_tasks()
    parts = _sell_at(session, ["100.00", "110.00", "120.00"])
    assert sale_price_range(session, parts[0].part_type_id) is None

    run = execute_job(app.extensions[SESSIONMAKER_KEY], app.config, "traceability.refresh_sale_price_ranges")

    assert run.result == {"part_types": 1}
    assert JOBS["traceability.refresh_sale_price_ranges"].every == timedelta(hours=1)
    page = client.get(part_path(parts[0]) + "&lang=en", headers=HTML).get_data(as_text=True)
    assert "¥102.00–¥118.00" in page
