"""Traceability settings: typed, read from the application settings and validated once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from app.clock import DEFAULT_TIMEZONE
from app.config import ENV_PREFIX, ConfigError


@dataclass(frozen=True)
class ClonePolicy:
    """Thresholds of the clone signals, and the hourly counterfeit-alert budget per client (from settings)."""

    max_speed_kmh: float
    max_cities: int
    far_km: float
    history: int
    counterfeit_alerts_per_client_hour: int = 30
    # Anonymous browser positions can be spoofed: their signals change the public verdict only once the part has
    # more scans than this (or a staff scan gives the position).
    corroboration_scans: int = 5


@dataclass(frozen=True)
class CustodyLimits:
    """Settings the custody rules need."""

    max_parts: int
    activation_max_failures: int
    activation_client_max_failures: int
    activation_window: timedelta
    # The configured TIMEZONE: a warranty runs to the end of a local day.
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class LocationRetention:
    """What becomes of a scan's location once it is `months` old: "coarsen" (0.1 degree, about 10 km) or
    "drop" (coordinates and city removed, the province kept); 0 months keeps locations as recorded."""

    months: int = 12
    mode: str = "coarsen"


RETENTION_MODES = ("coarsen", "drop")


@dataclass(frozen=True)
class TraceabilitySettings:
    """Everything the traceability views hand to the domain functions."""

    public_base_url: str
    clone: ClonePolicy
    custody: CustodyLimits
    scan_async_commit: bool
    report_max_per_hour: int
    commission_max_api: int
    timezone: str = DEFAULT_TIMEZONE
    location_retention: LocationRetention = LocationRetention()
    # PostgreSQL: months of partitions kept ready ahead of the current one (traceability/partitions.py).
    partition_months_ahead: int = 3


def _positive(config: Mapping, name: str, kind: type = int, allow_zero: bool = False) -> float:
    value = config[name]
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{ENV_PREFIX}{name} must be a number, not {value!r}") from None
    if isinstance(value, bool) or not (number > 0 or (allow_zero and number == 0)) or number != number:
        raise ConfigError(f"{ENV_PREFIX}{name} must be positive")
    return number


def read_settings(config: Mapping) -> TraceabilitySettings:
    """Read and check the traceability settings; raise ConfigError naming the first bad one."""
    return TraceabilitySettings(
        public_base_url=config["PUBLIC_BASE_URL"],
        clone=ClonePolicy(
            max_speed_kmh=_positive(config, "CLONE_MAX_SPEED_KMH", float),
            max_cities=_positive(config, "CLONE_MAX_CITIES"),
            far_km=_positive(config, "CLONE_FAR_KM", float),
            history=_positive(config, "CLONE_SCAN_HISTORY"),
            counterfeit_alerts_per_client_hour=_positive(config, "COUNTERFEIT_ALERTS_PER_CLIENT_HOUR"),
            # 0 trusts every position (a closed deployment where only staff scan).
            corroboration_scans=_positive(config, "CLONE_CORROBORATION_SCANS", int, allow_zero=True),
        ),
        custody=CustodyLimits(
            max_parts=_positive(config, "EVENT_MAX_PARTS"),
            activation_max_failures=_positive(config, "ACTIVATION_MAX_FAILURES"),
            activation_client_max_failures=_positive(config, "ACTIVATION_CLIENT_MAX_FAILURES"),
            activation_window=timedelta(seconds=_positive(config, "ACTIVATION_WINDOW_SECONDS")),
            timezone=config.get("TIMEZONE") or DEFAULT_TIMEZONE,
        ),
        scan_async_commit=bool(config["SCAN_ASYNC_COMMIT"]),
        report_max_per_hour=_positive(config, "REPORT_MAX_PER_HOUR"),
        commission_max_api=_positive(config, "COMMISSION_MAX_API"),
        timezone=config.get("TIMEZONE") or DEFAULT_TIMEZONE,
        location_retention=_location_retention(config),
        partition_months_ahead=_positive(config, "PARTITION_MONTHS_AHEAD"),
    )


def _location_retention(config: Mapping) -> LocationRetention:
    mode = config["SCAN_LOCATION_AFTER"]
    if mode not in RETENTION_MODES:
        raise ConfigError(f"{ENV_PREFIX}SCAN_LOCATION_AFTER must be one of {', '.join(RETENTION_MODES)}, not {mode!r}")
    return LocationRetention(months=_positive(config, "SCAN_LOCATION_MONTHS", int, allow_zero=True), mode=mode)
