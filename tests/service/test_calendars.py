"""Business calendar arithmetic: lunch breaks, weekends, 调休 make-up days, National Day, 24/7."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.errors import InvalidInput
from service.calendars import (
    BusinessCalendar,
    add_business_seconds,
    always_open_calendar,
    business_seconds_between,
    day_spans,
    is_open_at,
    next_opening,
    parse_periods,
)
from tests.service.factories import OFFICE, ZONE, at


def due(calendar: BusinessCalendar, start: str, minutes: int) -> datetime:
    return add_business_seconds(calendar, at(start), minutes * 60)


@pytest.mark.parametrize(
    ("start", "minutes", "expected", "why"),
    [
        ("2026-11-27 17:30", 60, "2026-11-30 09:00", "Friday evening to Monday morning"),
        ("2026-11-30 11:40", 60, "2026-11-30 14:10", "20 minutes before lunch, 40 after"),
        ("2026-11-30 12:30", 30, "2026-11-30 14:00", "created during lunch: counts from 13:30"),
        ("2026-11-30 07:00", 30, "2026-11-30 09:00", "created before opening"),
        ("2026-11-30 17:59", 1, "2026-11-30 18:00", "the last minute of the day"),
        ("2026-11-30 18:00", 1, "2026-12-01 08:31", "at closing time: tomorrow"),
        ("2025-09-27 10:00", 60, "2025-09-28 09:30", "Sunday 28 Sep 2025 was a 调休 working day"),
        ("2025-09-30 17:30", 60, "2025-10-09 09:00", "National Day 2025 (1-8 Oct)"),
        ("2026-09-19 10:00", 60, "2026-09-20 09:30", "Sunday 20 Sep 2026 is a 调休 working day"),
        ("2026-09-24 17:30", 60, "2026-09-28 09:00", "Mid-Autumn 2026 (25-27 Sep)"),
        ("2026-09-30 17:30", 60, "2026-10-08 09:00", "National Day 2026 (1-7 Oct)"),
        ("2026-10-09 17:30", 60, "2026-10-10 09:00", "Saturday 10 Oct 2026 is a 调休 working day"),
        ("2026-11-30 08:30", 9 * 60, "2026-12-01 09:30", "a working day here is 8 hours"),
    ],
)
def test_deadline_counts_only_open_minutes(start: str, minutes: int, expected: str, why: str) -> None:
    assert due(OFFICE, start, minutes) == at(expected), why


def test_deadline_on_a_24_7_calendar_is_wall_clock_time() -> None:
    desk = always_open_calendar(ZONE)

    assert due(desk, "2026-09-30 17:30", 60) == at("2026-09-30 18:30")
    assert due(desk, "2026-10-01 03:00", 90) == at("2026-10-01 04:30")


def test_seconds_between_skip_lunch_weekend_and_holidays() -> None:
    assert business_seconds_between(OFFICE, at("2026-11-30 11:00"), at("2026-11-30 14:00")) == 90 * 60
    assert business_seconds_between(OFFICE, at("2026-11-27 17:00"), at("2026-11-30 09:00")) == 90 * 60
    assert business_seconds_between(OFFICE, at("2026-09-30 17:00"), at("2026-10-08 08:40")) == 70 * 60
    assert business_seconds_between(OFFICE, at("2026-11-30 14:00"), at("2026-11-30 11:00")) == 0


def test_between_and_add_agree_over_a_long_span() -> None:
    start = at("2026-01-05 10:17")

    end = add_business_seconds(OFFICE, start, 500 * 3600)

    assert business_seconds_between(OFFICE, start, end) == 500 * 3600


def test_make_up_day_uses_the_weekday_periods() -> None:
    assert day_spans(OFFICE, date(2026, 10, 10)) == ((510, 720), (810, 1080))
    assert day_spans(OFFICE, date(2026, 10, 5)) == ()
    assert day_spans(OFFICE, date(2026, 10, 17)) == ()


def test_calendar_without_holidays_works_through_national_day() -> None:
    plain = BusinessCalendar(zone=ZONE, periods=OFFICE.periods, cn_holidays=False)

    assert due(plain, "2026-09-30 17:30", 60) == at("2026-10-01 09:00")


def test_exception_day_overrides_the_rules() -> None:
    calendar = BusinessCalendar(
        zone=ZONE, periods=OFFICE.periods, exceptions={date(2026, 12, 1): (), date(2026, 12, 5): ((600, 660),)}
    )

    assert due(calendar, "2026-11-30 17:30", 60) == at("2026-12-02 09:00")
    assert due(calendar, "2026-12-04 17:30", 60) == at("2026-12-05 10:30")


def test_year_the_package_does_not_know_falls_back_to_weekly_periods() -> None:
    assert due(OFFICE, "2030-01-04 17:30", 60) == at("2030-01-07 09:00")


def test_open_and_next_opening() -> None:
    assert is_open_at(OFFICE, at("2026-11-30 09:00"))
    assert not is_open_at(OFFICE, at("2026-11-30 12:30"))
    assert next_opening(OFFICE, at("2026-11-28 23:00")) == at("2026-11-30 08:30")
    assert next_opening(OFFICE, at("2026-11-30 09:00")) == at("2026-11-30 09:00")


def test_a_calendar_with_no_open_time_is_refused() -> None:
    closed = BusinessCalendar(zone=ZONE, periods={})

    with pytest.raises(InvalidInput):
        add_business_seconds(closed, at("2026-11-30 09:00"), 60)


@pytest.mark.parametrize(
    "periods",
    [
        {"mon": [["12:00", "08:30"]]},
        {"mon": [["08:30", "12:00"], ["11:00", "13:00"]]},
        {"mon": [["8:30", "12:00"]]},
        {"mon": [["08:30", "24:30"]]},
        {"mon": [["０８:30", "12:00"]]},
        {"monday": [["08:30", "12:00"]]},
        {"mon": "08:30-12:00"},
        ["mon"],
        {"mon": [["08:30\x00", "12:00"]]},
    ],
)
def test_bad_periods_name_the_field(periods: object) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_periods(periods)

    assert error.value.field.startswith("periods")


def test_negative_duration_is_refused() -> None:
    with pytest.raises(InvalidInput):
        add_business_seconds(OFFICE, at("2026-11-30 09:00"), -1)


def test_deadline_is_aware_and_comparable_in_utc() -> None:
    result = due(OFFICE, "2026-11-30 11:40", 60)

    assert result.utcoffset() == timedelta(hours=8)
    assert result.astimezone(ZoneInfo("UTC")).hour == 6
