"""Issue 10 (Also): every domain's settings are validated at start-up; a bad one stops the app naming it."""

from __future__ import annotations

import pytest

from app.config import ConfigError
from milepost.factory import create_app
from tests.conftest import test_settings as settings_for


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"REVIEW_DEFAULT_PRIOR": 9}, "REVIEW_DEFAULT_PRIOR"),
        ({"REVIEW_PRIOR_STRENGTH": "lots"}, "REVIEW_PRIOR_STRENGTH"),
        ({"CERTIFICATION_THRESHOLDS": '{"window_days": 90'}, "CERTIFICATION_THRESHOLDS"),
        ({"CERTIFICATION_THRESHOLDS": '{"genuine_rollout": {"Atlantis": "2026-01-01"}}'}, "CERTIFICATION_THRESHOLDS"),
        ({"SERVICE_WARN_FRACTION": 1.5}, "SERVICE_WARN_FRACTION"),
        ({"SERVICE_OEM_ALERT_FRACTION": 0.5}, "SERVICE_OEM_ALERT_FRACTION"),
        ({"SERVICE_DEFAULT_TARGETS": ["60", "0", "960"]}, "SERVICE_DEFAULT_TARGETS"),
        ({"SERVICE_SURVEY_DAYS": -1}, "SERVICE_SURVEY_DAYS"),
        ({"BOOKING_MAX_OPEN_PER_SHOP_DAY": 0}, "BOOKING_MAX_OPEN_PER_SHOP_DAY"),
    ],
)
def test_a_bad_domain_setting_stops_the_app_naming_it(database_url, tmp_path, monkeypatch, overrides, named):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))

    with pytest.raises(ConfigError, match=named):
        create_app(settings_for(database_url, **overrides))
