"""The service desk settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo


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
    """Return the typed service settings from a configuration mapping."""
    first, following, resolution = (int(value) for value in config["SERVICE_DEFAULT_TARGETS"])
    return ServiceSettings(
        zone=ZoneInfo(config["TIMEZONE"]),
        warn_fraction=float(config["SERVICE_WARN_FRACTION"]),
        oem_alert_fraction=float(config["SERVICE_OEM_ALERT_FRACTION"]),
        default_targets=(first, following, resolution),
        survey_days=int(config["SERVICE_SURVEY_DAYS"]),
        merge_window_hours=int(config["SERVICE_MERGE_WINDOW_HOURS"]),
        photo_max_bytes=int(config["SERVICE_PHOTO_MAX_BYTES"]),
        public_base_url=str(config["PUBLIC_BASE_URL"]).rstrip("/"),
    )
