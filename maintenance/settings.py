"""The maintenance settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.config import ConfigError
from app.crm.notifications import CHANNELS, INBOX


@dataclass(frozen=True)
class MaintenanceSettings:
    """Maintenance settings with their types (see app/config.py DEFAULTS for what each means)."""

    zone: ZoneInfo
    max_km_per_day: int
    reminder_channels: tuple[str, ...]


def maintenance_settings(config: Mapping) -> MaintenanceSettings:
    """Return the typed maintenance settings from a configuration mapping (ConfigError names a bad one)."""
    try:
        max_km = int(config["MAINTENANCE_MAX_KM_PER_DAY"])
    except (TypeError, ValueError) as exc:
        raise ConfigError("MILEPOST_MAINTENANCE_MAX_KM_PER_DAY must be a whole number") from exc
    if max_km < 1:
        raise ConfigError("MILEPOST_MAINTENANCE_MAX_KM_PER_DAY must be at least 1")
    channels = tuple(str(name).strip() for name in config["MAINTENANCE_REMINDER_CHANNELS"])
    if any(name not in CHANNELS for name in channels):
        raise ConfigError("MILEPOST_MAINTENANCE_REMINDER_CHANNELS lists inbox, sms or wechat")
    return MaintenanceSettings(
        zone=ZoneInfo(config["TIMEZONE"]),
        max_km_per_day=max_km,
        reminder_channels=tuple(dict.fromkeys((INBOX, *channels))),
    )
