"""The reviews domain's settings and certification thresholds, validated into typed values with clear errors."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time
from typing import Any

from app.clock import zone
from app.crm.regions import find_province
from app.errors import InvalidInput

DIMENSIONS = ("overall", "quality", "price", "timeliness", "honesty")
LEVELS = ("candidate", "certified", "gold")

# Criteria a level may set, with the KPI each one reads and whether the KPI must be at least or at most the value.
CRITERIA: dict[str, tuple[str, str]] = {
    "min_rating": ("rating", "min"),
    "min_reviews": ("rating_count", "min"),
    "min_completion_rate": ("completion_rate", "min"),
    "max_rejection_rate": ("rejection_rate", "max"),
    "max_no_show_rate": ("no_show_rate", "max"),
    "min_roadside_acceptance": ("roadside_acceptance_rate", "min"),
    "max_roadside_response_minutes": ("roadside_response_minutes", "max"),
    "min_genuine_part_ratio": ("genuine_part_ratio", "min"),
}
RATE_CRITERIA = {
    "min_completion_rate",
    "max_rejection_rate",
    "max_no_show_rate",
    "min_roadside_acceptance",
    "min_genuine_part_ratio",
}

# The published default thresholds; MILEPOST_CERTIFICATION_THRESHOLDS (JSON) replaces them as a whole.
DEFAULT_THRESHOLDS: dict[str, Any] = {
    "window_days": 180,
    "confirmations": 2,
    "cure_days": 60,
    "levels": {
        "candidate": {"min_rating": 3.5, "min_reviews": 3, "min_completion_rate": 0.7},
        "certified": {
            "min_rating": 4.0,
            "min_reviews": 8,
            "min_completion_rate": 0.85,
            "max_rejection_rate": 0.15,
            "max_no_show_rate": 0.1,
            "min_roadside_acceptance": 0.5,
            "max_roadside_response_minutes": 30,
            "min_genuine_part_ratio": 0.6,
        },
        "gold": {
            "min_rating": 4.4,
            "min_reviews": 20,
            "min_completion_rate": 0.93,
            "max_rejection_rate": 0.08,
            "max_no_show_rate": 0.05,
            "min_roadside_acceptance": 0.75,
            "max_roadside_response_minutes": 15,
            "min_genuine_part_ratio": 0.85,
        },
    },
    "integrity": {"max_counterfeit_incidents": 0, "max_flagged_reviews": 2},
}


class ThresholdsInvalid(InvalidInput):
    """The certification thresholds cannot be used; `field` names the offending key."""

    code = "invalid_thresholds"


@dataclass(frozen=True)
class Thresholds:
    """Validated certification thresholds: per-level criteria, integrity limits and the rules of change."""

    window_days: int
    confirmations: int
    cure_days: int
    levels: dict[str, dict[str, float]]
    max_counterfeit_incidents: int
    max_flagged_reviews: int
    # The OEM's roll-out of genuine-part tracking per province (name -> first day): a shop's genuine-part ratio is
    # judged over repairs from this day on, or from its own first recorded installation if that came earlier.
    genuine_rollout: dict[str, date] = dataclass_field(default_factory=dict)

    def rollout_start(self, province: str) -> datetime | None:
        """Return the instant genuine-part tracking began in `province` (local midnight), if the OEM set one."""
        day = self.genuine_rollout.get(province)
        if day is None:
            return None
        return datetime.combine(day, time(0), tzinfo=zone(None)).astimezone(UTC)

    def to_dict(self) -> dict[str, Any]:
        """Return the thresholds in their configuration shape (stored with every evaluation)."""
        return {
            "window_days": self.window_days,
            "confirmations": self.confirmations,
            "cure_days": self.cure_days,
            "levels": {level: dict(criteria) for level, criteria in self.levels.items()},
            "integrity": {
                "max_counterfeit_incidents": self.max_counterfeit_incidents,
                "max_flagged_reviews": self.max_flagged_reviews,
            },
            **(
                {"genuine_rollout": {name: day.isoformat() for name, day in self.genuine_rollout.items()}}
                if self.genuine_rollout
                else {}
            ),
        }


def _number(value: object, field: str, *, whole: bool = False, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ThresholdsInvalid("%(field)s must be a number", field=field)
    if whole and value != int(value):
        raise ThresholdsInvalid("%(field)s must be a whole number", field=field)
    if value < minimum:
        raise ThresholdsInvalid("%(field)s must be at least %(minimum)s", field=field, minimum=f"{minimum:g}")
    return int(value) if whole else float(value)


def _mapping(value: object, field: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ThresholdsInvalid("%(field)s must be an object", field=field)
    return value


def _only_keys(value: Mapping, allowed: set[str], field: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ThresholdsInvalid(
            "%(setting)s.%(value)s is not a known setting",
            field=f"{field}.{unknown[0]}",
            setting=field,
            value=unknown[0],
        )


def _criterion(name: str, value: object, field: str) -> float:
    if name == "min_rating":
        number = _number(value, field, minimum=1)
        if number > 5:
            raise ThresholdsInvalid("%(field)s must be between 1 and 5 stars", field=field)
        return number
    if name == "min_reviews":
        return _number(value, field, whole=True)
    if name in RATE_CRITERIA:
        number = _number(value, field)
        if number > 1:
            raise ThresholdsInvalid("%(field)s is a rate between 0 and 1", field=field)
        return number
    return _number(value, field)


def _is_stricter_or_equal(name: str, lower: float, higher: float) -> bool:
    return higher >= lower if CRITERIA[name][1] == "min" else higher <= lower


def parse_thresholds(raw: object, field: str = "thresholds") -> Thresholds:
    """Validate a thresholds object (dict or JSON text) and return it typed; raise ThresholdsInvalid naming the key."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ThresholdsInvalid("%(field)s is not valid JSON: %(exc)s", field=field, exc=str(exc)) from None
    top = _mapping(raw, field)
    _only_keys(top, {"window_days", "confirmations", "cure_days", "levels", "integrity", "genuine_rollout"}, field)
    for key in ("window_days", "confirmations", "cure_days", "levels", "integrity"):
        if key not in top:
            raise ThresholdsInvalid("%(setting)s.%(key)s is missing", field=f"{field}.{key}", setting=field, key=key)
    levels_raw = _mapping(top["levels"], f"{field}.levels")
    _only_keys(levels_raw, set(LEVELS), f"{field}.levels")
    levels: dict[str, dict[str, float]] = {}
    for level in LEVELS:
        level_field = f"{field}.levels.{level}"
        if level not in levels_raw:
            raise ThresholdsInvalid("%(field)s is missing", field=level_field)
        criteria = _mapping(levels_raw[level], level_field)
        _only_keys(criteria, set(CRITERIA), level_field)
        if "min_rating" not in criteria or "min_reviews" not in criteria:
            raise ThresholdsInvalid("%(field)s needs min_rating and min_reviews", field=level_field)
        levels[level] = {name: _criterion(name, value, f"{level_field}.{name}") for name, value in criteria.items()}
    # Each level must be at least as demanding as the one below it, or the ladder would skip or loop.
    for lower, higher in zip(LEVELS, LEVELS[1:], strict=False):
        for name, value in levels[lower].items():
            if name in levels[higher] and not _is_stricter_or_equal(name, value, levels[higher][name]):
                key = f"{field}.levels.{higher}.{name}"
                raise ThresholdsInvalid("%(field)s must be at least as strict as %(lower)s's", field=key, lower=lower)
    integrity = _mapping(top["integrity"], f"{field}.integrity")
    _only_keys(integrity, {"max_counterfeit_incidents", "max_flagged_reviews"}, f"{field}.integrity")
    return Thresholds(
        window_days=_number(top["window_days"], f"{field}.window_days", whole=True, minimum=1),
        confirmations=_number(top["confirmations"], f"{field}.confirmations", whole=True, minimum=1),
        cure_days=_number(top["cure_days"], f"{field}.cure_days", whole=True, minimum=1),
        levels=levels,
        max_counterfeit_incidents=_number(
            integrity.get("max_counterfeit_incidents", 0), f"{field}.integrity.max_counterfeit_incidents", whole=True
        ),
        max_flagged_reviews=_number(
            integrity.get("max_flagged_reviews", 0), f"{field}.integrity.max_flagged_reviews", whole=True
        ),
        genuine_rollout=_rollout(top.get("genuine_rollout", {}), f"{field}.genuine_rollout"),
    )


def _rollout(raw: object, field: str) -> dict[str, date]:
    """Validate the per-province roll-out days: province names (Chinese or pinyin) to ISO dates."""
    days: dict[str, date] = {}
    for name, value in _mapping(raw, field).items():
        province = find_province(str(name))
        if province is None:
            raise ThresholdsInvalid("%(field)s: %(name)s is not a province", field=f"{field}.{name}", name=str(name))
        try:
            days[province.name] = date.fromisoformat(str(value))
        except ValueError:
            raise ThresholdsInvalid("%(field)s must be a date (YYYY-MM-DD)", field=f"{field}.{name}") from None
    return days


@dataclass(frozen=True)
class ReviewSettings:
    """The reviews settings from app.config DEFAULTS, typed and checked."""

    window_days: int = 30
    follow_up_days: int = 180
    prior_strength: float = 5.0
    default_prior: float = 4.0
    half_life_days: float = 365.0
    pair_cap_per_month: int = 1
    burst_window_hours: int = 24
    cluster_min_accounts: int = 3
    bulk_minutes: int = 10
    bulk_min_count: int = 3
    plaque_near_km: float = 5.0


# app.config setting name -> ReviewSettings field.
SETTING_NAMES = {
    "REVIEW_WINDOW_DAYS": "window_days",
    "REVIEW_FOLLOW_UP_DAYS": "follow_up_days",
    "REVIEW_PRIOR_STRENGTH": "prior_strength",
    "REVIEW_DEFAULT_PRIOR": "default_prior",
    "REVIEW_HALF_LIFE_DAYS": "half_life_days",
    "REVIEW_PAIR_CAP_PER_MONTH": "pair_cap_per_month",
    "REVIEW_BURST_WINDOW_HOURS": "burst_window_hours",
    "REVIEW_CLUSTER_MIN_ACCOUNTS": "cluster_min_accounts",
    "REVIEW_BULK_MINUTES": "bulk_minutes",
    "REVIEW_BULK_MIN_COUNT": "bulk_min_count",
    "PLAQUE_NEAR_KM": "plaque_near_km",
}


def review_settings(config: Mapping[str, Any]) -> ReviewSettings:
    """Read and check the reviews settings from an app config (missing ones take their defaults)."""
    defaults = ReviewSettings()
    values: dict[str, Any] = {}
    kinds = {item.name: item.type for item in fields(ReviewSettings)}
    for setting, attribute in SETTING_NAMES.items():
        raw = config.get(setting, getattr(defaults, attribute))
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise InvalidInput("%(field)s must be a number, not %(raw)r", field=setting, raw=raw) from None
        if not math.isfinite(number) or number <= 0:
            raise InvalidInput("%(field)s must be a positive number", field=setting)
        values[attribute] = int(number) if kinds[attribute] == "int" else number
    if not 1 <= values["default_prior"] <= 5:
        raise InvalidInput("REVIEW_DEFAULT_PRIOR must be between 1 and 5 stars", field="REVIEW_DEFAULT_PRIOR")
    return ReviewSettings(**values)


def configured_thresholds(config: Mapping[str, Any]) -> Thresholds:
    """Return the thresholds in force: CERTIFICATION_THRESHOLDS when set, else the published defaults."""
    raw = config.get("CERTIFICATION_THRESHOLDS") or DEFAULT_THRESHOLDS
    return parse_thresholds(raw, field="CERTIFICATION_THRESHOLDS")
