"""Local dates in the configured time zone (settings TIMEZONE): a warranty day ends at local midnight, not UTC's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


def zone(config_or_tz: Mapping[str, Any] | str | ZoneInfo | None) -> ZoneInfo:
    """Return the time zone named by a settings mapping (TIMEZONE), a zone name, or a zone."""
    if isinstance(config_or_tz, ZoneInfo):
        return config_or_tz
    if isinstance(config_or_tz, str):
        return ZoneInfo(config_or_tz)
    name = (config_or_tz or {}).get("TIMEZONE") or DEFAULT_TIMEZONE
    return ZoneInfo(name)


def local_today(config_or_tz: Mapping[str, Any] | str | ZoneInfo | None = None, now: datetime | None = None) -> date:
    """Return today's date where the service runs (the configured zone), not the server's or UTC's."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(zone(config_or_tz)).date()


def local_date(moment: datetime, config_or_tz: Mapping[str, Any] | str | ZoneInfo | None = None) -> date:
    """Return the local date of an aware moment in the configured zone."""
    return moment.astimezone(zone(config_or_tz)).date()
