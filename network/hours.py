"""Weekly opening hours in the shop's local time: parsing, "open now", and the slot grid."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_RULE = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+(?P<spans>.+)$")


def _minutes(text: str, field: str) -> int:
    match = _TIME.match(str(text).strip())
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise InvalidInput("%(text)r is not a time of day HH:MM", field=field, text=text)
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_opening_hours(value: object, field: str = "opening_hours") -> dict[str, list[list[str]]]:
    """Validate {"mon": [["08:00", "18:00"], ...], ...}; missing days are closed; spans may not overlap."""
    if isinstance(value, str):
        return parse_hours_text(value, field)
    if not isinstance(value, dict):
        raise InvalidInput("opening hours map mon..sun to lists of [open, close] times", field=field)
    unknown = set(value) - set(DAYS)
    if unknown:
        raise InvalidInput(f"unknown day %(value)r; days are {', '.join(DAYS)}", field=field, value=sorted(unknown)[0])
    result: dict[str, list[list[str]]] = {}
    for day in DAYS:
        spans = value.get(day) or []
        if not isinstance(spans, list):
            raise InvalidInput("%(day)s must be a list of [open, close] pairs", field=f"{field}.{day}", day=day)
        cleaned, last_close = [], -1
        for span in sorted(spans, key=lambda pair: str(pair[0]) if isinstance(pair, list | tuple) and pair else ""):
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise InvalidInput("%(day)s spans are [open, close] pairs", field=f"{field}.{day}", day=day)
            opens, closes = _minutes(span[0], f"{field}.{day}"), _minutes(span[1], f"{field}.{day}")
            if closes <= opens:
                raise InvalidInput("%(day)s: closing time must be after opening time", field=f"{field}.{day}", day=day)
            if opens < last_close:
                raise InvalidInput("%(day)s: opening spans overlap", field=f"{field}.{day}", day=day)
            last_close = closes
            cleaned.append([f"{opens // 60:02d}:{opens % 60:02d}", f"{closes // 60:02d}:{closes % 60:02d}"])
        result[day] = cleaned
    return result


def parse_hours_text(text: str, field: str = "opening_hours") -> dict[str, list[list[str]]]:
    """Parse the compact form used in CSV files: "mon-fri 08:00-18:00; sat 09:00-12:00,13:00-17:00"."""
    spans: dict[str, list[list[str]]] = {}
    for rule in filter(None, (part.strip().lower() for part in text.split(";"))):
        match = _RULE.match(rule)
        if not match:
            raise InvalidInput("cannot read %(rule)r; write e.g. 'mon-fri 08:00-18:00'", field=field, rule=rule)
        days: list[str] = []
        for chunk in match.group("days").split(","):
            first, _, last = chunk.partition("-")
            if first not in DAYS or (last and last not in DAYS):
                raise InvalidInput("unknown day in %(chunk)r", field=field, chunk=chunk)
            start, stop = DAYS.index(first), DAYS.index(last or first)
            days += list(DAYS[start : stop + 1]) if stop >= start else list(DAYS[start:] + DAYS[: stop + 1])
        for span in match.group("spans").split(","):
            opens, dash, closes = span.strip().partition("-")
            if not dash:
                raise InvalidInput("%(span)r is not a span like 08:00-18:00", field=field, span=span)
            for day in days:
                spans.setdefault(day, []).append([opens.strip(), closes.strip()])
    return parse_opening_hours(spans, field)


def _local_spans(hours: dict, open_24h: bool, day: date) -> list[tuple[int, int]]:
    if open_24h:
        return [(0, 24 * 60)]
    return [
        (_minutes(opens, "hours"), _minutes(closes, "hours")) for opens, closes in hours.get(DAYS[day.weekday()], [])
    ]


def longest_day_minutes(hours: dict, open_24h: bool) -> int | None:
    """Return the minutes a shop is open on its longest day (None when no hours are recorded or readable)."""
    if open_24h:
        return 24 * 60
    longest = None
    for spans in (hours or {}).values():
        try:
            day = sum(max(0, _minutes(closes, "hours") - _minutes(opens, "hours")) for opens, closes in spans)
        except (InvalidInput, TypeError, ValueError):
            continue
        longest = max(longest or 0, day)
    return longest


def is_open_at(hours: dict, open_24h: bool, moment: datetime, zone: ZoneInfo) -> bool:
    """Tell whether a shop with these hours is open at `moment`."""
    local = moment.astimezone(zone)
    minute = local.hour * 60 + local.minute
    return any(opens <= minute < closes for opens, closes in _local_spans(hours, open_24h, local.date()))


def slot_starts(hours: dict, open_24h: bool, slot_minutes: int, day: date, zone: ZoneInfo) -> list[datetime]:
    """Return the starts (aware, local zone) of the whole slots that fit into the opening spans of `day`."""
    starts = []
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    for opens, closes in _local_spans(hours, open_24h, day):
        minute = opens
        while minute + slot_minutes <= closes:
            starts.append(midnight + timedelta(minutes=minute))
            minute += slot_minutes
    return starts


def is_slot_start(hours: dict, open_24h: bool, slot_minutes: int, start: datetime, zone: ZoneInfo) -> bool:
    """Tell whether `start` begins one of the shop's slots."""
    local = start.astimezone(zone)
    return local.replace(tzinfo=zone) in slot_starts(hours, open_24h, slot_minutes, local.date(), zone)


def hours_to_text(hours: dict, open_24h: bool) -> str:
    """Render hours in the compact form parse_hours_text reads, runs of equal days joined: "mon-fri 08:00-18:00"."""
    if open_24h:
        return "24/7"
    rules: list[tuple[list[str], str]] = []
    for day in DAYS:
        spans = ",".join(f"{opens}-{closes}" for opens, closes in hours.get(day) or [])
        if not spans:
            continue
        if rules and rules[-1][1] == spans and DAYS.index(rules[-1][0][-1]) == DAYS.index(day) - 1:
            rules[-1][0].append(day)
        else:
            rules.append(([day], spans))
    return "; ".join((days[0] if len(days) == 1 else f"{days[0]}-{days[-1]}") + f" {spans}" for days, spans in rules)
