"""Traceability settings: typed, and a bad value stops the application at start-up with the setting's name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.config import DEFAULTS, ConfigError
from milepost.factory import create_app
from tests.conftest import test_settings as app_settings
from traceability.settings import read_settings


def test_defaults_read_as_typed_settings():
    settings = read_settings(DEFAULTS)

    assert settings.clone.max_cities == DEFAULTS["CLONE_MAX_CITIES"]
    assert settings.custody.activation_window == timedelta(seconds=DEFAULTS["ACTIVATION_WINDOW_SECONDS"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLONE_MAX_CITIES", 0),
        ("CLONE_FAR_KM", "far"),
        ("EVENT_MAX_PARTS", -1),
        ("CLONE_MAX_SPEED_KMH", "nan"),
        ("SCAN_LOCATION_AFTER", "forget"),
        ("SCAN_LOCATION_MONTHS", -1),
        ("PARTITION_MONTHS_AHEAD", 0),
    ],
)
def test_a_bad_traceability_setting_stops_the_app_at_start_up(database_url, tmp_path, monkeypatch, name, value):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))

    with pytest.raises(ConfigError, match=f"MILEPOST_{name}"):
        create_app(app_settings(database_url, **{name: value}))
