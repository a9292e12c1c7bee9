"""Service test data: the office calendar of the research file's examples, local instants, and records."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from service.calendars import BusinessCalendar, parse_periods

ZONE = ZoneInfo("Asia/Shanghai")
WEEKDAY = [["08:30", "12:00"], ["13:30", "18:00"]]
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
# Mon-Fri 08:30-12:00 and 13:30-18:00 with China's holidays and make-up days.
OFFICE = BusinessCalendar(zone=ZONE, periods=parse_periods(dict.fromkeys(WORKWEEK, WEEKDAY)))


def at(text: str) -> datetime:
    """Return a Shanghai local time written as 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)
