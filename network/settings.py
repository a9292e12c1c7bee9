"""The network settings domain functions take, read once from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.config import ConfigError


@dataclass(frozen=True)
class NetworkSettings:
    """Network settings with their types (see app/config.py DEFAULTS for what each means)."""

    zone: ZoneInfo
    snap_km: float
    service_area_km: float
    max_k: int
    max_km: float
    min_notice_minutes: int
    window_days: int
    cancel_cutoff_minutes: int
    max_open_per_shop_day: int
    assistance_radii_km: tuple[float, ...]
    assistance_offer_shops: int
    assistance_timeout_seconds: int
    assistance_speed_kmh: float
    assistance_preparation_minutes: int
    coverage_radius_km: float
    corridor_km: float


def _positive(config: Mapping, name: str) -> int:
    """Read a whole number of at least 1, or stop with a message naming the setting."""
    try:
        value = int(config[name])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"MILEPOST_{name} must be a whole number") from exc
    if value < 1:
        raise ConfigError(f"MILEPOST_{name} must be at least 1")
    return value


def network_settings(config: Mapping) -> NetworkSettings:
    """Return the typed network settings from a configuration mapping (ConfigError on a bad value)."""
    return NetworkSettings(
        zone=ZoneInfo(config["TIMEZONE"]),
        snap_km=float(config["NETWORK_SNAP_KM"]),
        service_area_km=float(config["NETWORK_SERVICE_AREA_METRES"]) / 1000,
        max_k=int(config["SEARCH_MAX_K"]),
        max_km=float(config["SEARCH_MAX_KM"]),
        min_notice_minutes=int(config["BOOKING_MIN_NOTICE_MINUTES"]),
        window_days=int(config["BOOKING_WINDOW_DAYS"]),
        cancel_cutoff_minutes=int(config["BOOKING_CANCEL_CUTOFF_MINUTES"]),
        max_open_per_shop_day=_positive(config, "BOOKING_MAX_OPEN_PER_SHOP_DAY"),
        assistance_radii_km=tuple(float(radius) for radius in config["ASSISTANCE_RADII_KM"]),
        assistance_offer_shops=int(config["ASSISTANCE_OFFER_SHOPS"]),
        assistance_timeout_seconds=int(config["ASSISTANCE_TIMEOUT_SECONDS"]),
        assistance_speed_kmh=float(config["ASSISTANCE_SPEED_KMH"]),
        assistance_preparation_minutes=int(config["ASSISTANCE_PREPARATION_MINUTES"]),
        coverage_radius_km=float(config["COVERAGE_RADIUS_KM"]),
        corridor_km=float(config["COVERAGE_CORRIDOR_KM"]),
    )
