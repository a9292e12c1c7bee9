"""The leads settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from app.config import ConfigError
from app.errors import InvalidInput
from service.calendars import DAYS, BusinessCalendar, parse_spans

GRADES = ("A", "B", "C")


@dataclass(frozen=True)
class LeadsSettings:
    """Leads settings with their types (see app/config.py DEFAULTS for what each means)."""

    zone: ZoneInfo
    cap: int
    daily_claim_limit: int
    first_follow_up: timedelta
    idle: timedelta
    reclaim_cooldown: timedelta
    calendar: BusinessCalendar
    qualify_grade: str
    lost_reasons: tuple[str, ...]


def _positive(config: Mapping, name: str) -> int:
    try:
        value = int(config[name])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"MILEPOST_{name} must be a whole number") from exc
    if value < 1:
        raise ConfigError(f"MILEPOST_{name} must be at least 1")
    return value


def _calendar(config: Mapping, zone: ZoneInfo) -> BusinessCalendar:
    try:
        spans = parse_spans(
            [str(period).split("-", 1) for period in config["LEADS_WORKING_HOURS"]], "LEADS_WORKING_HOURS"
        )
    except InvalidInput as exc:
        raise ConfigError(f"MILEPOST_LEADS_WORKING_HOURS: {exc.message}") from exc
    days = [str(day).strip().lower() for day in config["LEADS_WORKING_DAYS"]]
    if not spans or not days or any(day not in DAYS for day in days):
        raise ConfigError("MILEPOST_LEADS_WORKING_HOURS and LEADS_WORKING_DAYS must name open periods and mon..sun")
    return BusinessCalendar(zone=zone, periods={day: spans for day in days}, cn_holidays=True)


def leads_settings(config: Mapping) -> LeadsSettings:
    """Return the typed leads settings from a configuration mapping (ConfigError names a bad one)."""
    zone = ZoneInfo(config["TIMEZONE"])
    grade = str(config["LEADS_QUALIFY_GRADE"]).upper()
    if grade not in GRADES:
        raise ConfigError("MILEPOST_LEADS_QUALIFY_GRADE must be A, B or C")
    reasons = tuple(str(reason).strip() for reason in config["LEADS_LOST_REASONS"] if str(reason).strip())
    if not reasons:
        raise ConfigError("MILEPOST_LEADS_LOST_REASONS must list at least one reason")
    return LeadsSettings(
        zone=zone,
        cap=_positive(config, "LEADS_CAP"),
        daily_claim_limit=_positive(config, "LEADS_DAILY_CLAIM_LIMIT"),
        first_follow_up=timedelta(hours=_positive(config, "LEADS_FIRST_FOLLOW_UP_HOURS")),
        idle=timedelta(days=_positive(config, "LEADS_IDLE_DAYS")),
        reclaim_cooldown=timedelta(hours=_positive(config, "LEADS_RECLAIM_COOLDOWN_HOURS")),
        calendar=_calendar(config, zone),
        qualify_grade=grade,
        lost_reasons=reasons,
    )


# Leads (or touchpoints) the minute job handles between two checkpoints, where the job commits: SQLite has one
# writer, and a tick of a few hundred leads in one transaction kept sign-ins waiting 8-12 s behind it.
CHUNK = 50


def no_checkpoint() -> None:
    """The checkpoint of a caller that commits nothing in between (a test, a page, one transaction)."""
    return None
