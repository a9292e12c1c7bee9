"""The service desk settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.config import ENV_PREFIX, ConfigError


@dataclass(frozen=True)
class ServiceSettings:
    """Service settings with their types (see app/config.py DEFAULTS for what each means)."""

    zone: ZoneInfo
    warn_fraction: float
    oem_alert_fraction: float
    default_targets: tuple[int, int, int]
    survey_days: int
    merge_window_hours: int
    photo_max_bytes: int
    public_base_url: str


def service_settings(config: Mapping) -> ServiceSettings:
    """Return the typed service settings from a configuration mapping; ConfigError names a bad one."""
    try:
        targets = tuple(int(value) for value in config["SERVICE_DEFAULT_TARGETS"])
        values = {
            name: kind(config[name])
            for name, kind in (
                ("SERVICE_WARN_FRACTION", float),
                ("SERVICE_OEM_ALERT_FRACTION", float),
                ("SERVICE_SURVEY_DAYS", int),
                ("SERVICE_MERGE_WINDOW_HOURS", int),
                ("SERVICE_PHOTO_MAX_BYTES", int),
            )
        }
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{ENV_PREFIX}SERVICE_* settings must be numbers: {exc}") from None
    if len(targets) != 3 or min(targets) <= 0:
        raise ConfigError(
            f"{ENV_PREFIX}SERVICE_DEFAULT_TARGETS is three positive minutes (first response, next response, resolution)"
        )
    if not 0 < values["SERVICE_WARN_FRACTION"] < 1:
        raise ConfigError(f"{ENV_PREFIX}SERVICE_WARN_FRACTION is a share of the target between 0 and 1")
    if values["SERVICE_OEM_ALERT_FRACTION"] < 1:
        raise ConfigError(f"{ENV_PREFIX}SERVICE_OEM_ALERT_FRACTION is at least 1 (the OEM hears of a breach after it)")
    for name in ("SERVICE_SURVEY_DAYS", "SERVICE_MERGE_WINDOW_HOURS", "SERVICE_PHOTO_MAX_BYTES"):
        if values[name] <= 0:
            raise ConfigError(f"{ENV_PREFIX}{name} must be positive")
    first, following, resolution = targets
    return ServiceSettings(
        zone=ZoneInfo(config["TIMEZONE"]),
        warn_fraction=values["SERVICE_WARN_FRACTION"],
        oem_alert_fraction=values["SERVICE_OEM_ALERT_FRACTION"],
        default_targets=(first, following, resolution),
        survey_days=values["SERVICE_SURVEY_DAYS"],
        merge_window_hours=values["SERVICE_MERGE_WINDOW_HOURS"],
        photo_max_bytes=values["SERVICE_PHOTO_MAX_BYTES"],
        public_base_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
    )
