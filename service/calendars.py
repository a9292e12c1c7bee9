"""Business calendars: weekly periods (several a day), Chinese holidays and make-up working days, 24/7.

Pure arithmetic, no database: an SLA clock asks "how many working seconds lie between these two instants" and
"which instant is N working seconds after this one". Instants are aware datetimes; periods are local times in
the calendar's zone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The State Council's holiday and 调休 (make-up working day) notices as data, kept up to date yearly by its
# maintainer; a year it does not know yet falls back to the plain weekly periods (see `day_periods`).
import chinese_calendar

from app.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Span = tuple[int, int]
# A calendar with no open minute at all (or closed by exceptions for over a year) has no deadline.
MAX_LOOKAHEAD_DAYS = 400


def _minutes(text: object, field_name: str) -> int:
    parts = str(text).strip().split(":")
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() and len(part) == 2 for part in parts):
        raise InvalidInput("%(value)s is not a time of day HH:MM", field=field_name, value=str(text)[:20])
    hours, minutes = int(parts[0]), int(parts[1])
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise InvalidInput("%(value)s is not a time of day HH:MM", field=field_name, value=str(text)[:20])
    return hours * 60 + minutes


def parse_spans(value: object, field_name: str) -> tuple[Span, ...]:
    """Validate [["08:30", "12:00"], ["13:30", "18:00"]] into sorted, non-overlapping minute spans."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInput("periods are a list of [start, end] pairs", field=field_name)
    spans: list[Span] = []
    for pair in value:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise InvalidInput("periods are a list of [start, end] pairs", field=field_name)
        start, end = _minutes(pair[0], field_name), _minutes(pair[1], field_name)
        if end <= start:
            raise InvalidInput("a period must end after it starts", field=field_name)
        spans.append((start, end))
    spans.sort()
    for previous, following in zip(spans, spans[1:], strict=False):
        if following[0] < previous[1]:
            raise InvalidInput("periods overlap", field=field_name)
    return tuple(spans)


def parse_periods(value: object, field_name: str = "periods") -> dict[str, tuple[Span, ...]]:
    """Validate {"mon": [["08:30", "12:00"], ["13:30", "18:00"]], ...}; missing days are closed."""
    if not isinstance(value, Mapping):
        raise InvalidInput("periods map mon..sun to lists of [start, end] pairs", field=field_name)
    unknown = set(value) - set(DAYS)
    if unknown:
        raise InvalidInput("unknown day %(day)s", field=field_name, day=sorted(map(str, unknown))[0][:10])
    return {day: parse_spans(value.get(day), f"{field_name}.{day}") for day in DAYS}


def format_spans(spans: tuple[Span, ...]) -> list[list[str]]:
    """Return minute spans as [["08:30", "12:00"], ...] (the stored form)."""
    return [[f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"] for start, end in spans]


@dataclass(frozen=True)
class BusinessCalendar:
    """When a queue works: weekly periods, optionally China's public holidays and 调休, and day exceptions."""

    zone: ZoneInfo
    periods: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    always_open: bool = False
    cn_holidays: bool = True
    # Explicit days win over everything: () closes the day, spans open it at those times.
    exceptions: Mapping[date, tuple[Span, ...]] = field(default_factory=dict)

    @property
    def workday_spans(self) -> tuple[Span, ...]:
        """Return the periods of a make-up working day on a weekend: those of the first weekday that has any."""
        for day in DAYS[:5]:
            if self.periods.get(day):
                return self.periods[day]
        return ()


def always_open_calendar(zone: ZoneInfo) -> BusinessCalendar:
    """Return a 24/7 calendar (the OEM desk, safety categories)."""
    return BusinessCalendar(zone=zone, always_open=True, cn_holidays=False)


def _day_kind(day: date) -> str | None:
    """Return 'holiday', 'makeup' or 'weekend' per the State Council, None on an ordinary day or unknown year."""
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if is_holiday and name:
        return "holiday"
    if not is_holiday and day.weekday() >= 5:
        return "makeup"
    return None


def day_spans(calendar: BusinessCalendar, day: date) -> tuple[Span, ...]:
    """Return the open minute spans of one local day."""
    if calendar.always_open:
        return ((0, 24 * 60),)
    if day in calendar.exceptions:
        return calendar.exceptions[day]
    if calendar.cn_holidays:
        kind = _day_kind(day)
        if kind == "holiday":
            return ()
        if kind == "makeup":
            return calendar.periods.get(DAYS[day.weekday()]) or calendar.workday_spans
    return calendar.periods.get(DAYS[day.weekday()], ())


def open_intervals(
    calendar: BusinessCalendar, start: datetime, days: int = MAX_LOOKAHEAD_DAYS
) -> Iterator[tuple[datetime, datetime]]:
    """Yield the calendar's open intervals (aware, in its zone) that end after `start`, in order, for `days`."""
    local_day = start.astimezone(calendar.zone).date()
    for offset in range(-1, days):
        day = local_day + timedelta(days=offset)
        for opens, closes in day_spans(calendar, day):
            begin = datetime.combine(day, time(), calendar.zone) + timedelta(minutes=opens)
            end = datetime.combine(day, time(), calendar.zone) + timedelta(minutes=closes)
            if end > start:
                yield max(begin, start), end


def add_business_seconds(calendar: BusinessCalendar, start: datetime, seconds: float) -> datetime:
    """Return the instant `seconds` of open calendar time after `start` (counted forward)."""
    if seconds < 0:
        raise InvalidInput("a duration cannot be negative", field="seconds")
    if calendar.always_open:
        return start + timedelta(seconds=seconds)
    remaining = timedelta(seconds=seconds)
    for begin, end in open_intervals(calendar, start):
        if end - begin >= remaining:
            return begin + remaining
        remaining -= end - begin
    raise InvalidInput("the calendar has no open time within a year", field="calendar")


def business_seconds_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Return the open calendar seconds in [start, end) (0 when end is not after start)."""
    if end <= start:
        return 0.0
    if calendar.always_open:
        return (end - start).total_seconds()
    total = 0.0
    for begin, close in open_intervals(calendar, start, days=(end - start).days + 2):
        if begin >= end:
            break
        total += (min(close, end) - begin).total_seconds()
    return total


def is_open_at(calendar: BusinessCalendar, instant: datetime) -> bool:
    """Tell whether the calendar is open at `instant`."""
    for begin, _end in open_intervals(calendar, instant):
        return begin <= instant
    return False


def next_opening(calendar: BusinessCalendar, instant: datetime) -> datetime:
    """Return `instant` if the calendar is open then, else when it next opens."""
    for begin, _end in open_intervals(calendar, instant):
        return begin
    raise InvalidInput("the calendar has no open time within a year", field="calendar")
