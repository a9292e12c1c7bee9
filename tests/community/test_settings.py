"""Community settings are read and checked at start-up: a bad value stops the app with a message naming it."""

from __future__ import annotations

import pytest

from app.config import DEFAULTS, ConfigError
from community.settings import SHIPPED_KEYWORDS, community_settings
from milepost.factory import create_app
from tests.conftest import test_settings as app_settings


def test_defaults_give_a_24_hour_report_deadline_and_the_shipped_keywords():
    settings = community_settings(DEFAULTS)

    assert settings.report_deadline.total_seconds() == 24 * 3600
    assert "违禁词" in settings.keywords
    assert SHIPPED_KEYWORDS.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMMUNITY_REPORT_HOURS", 0),
        ("COMMUNITY_NEW_ACCOUNT_DAYS", "many"),
        ("COMMUNITY_KEYWORDS_FILE", "/no/such/file.txt"),
        ("COMMUNITY_IP_PROVINCES_FILE", "/no/such/table.csv"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(database_url, tmp_path, monkeypatch, name, value):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))

    with pytest.raises(ConfigError, match=f"MILEPOST_{name}"):
        create_app(app_settings(database_url, **{name: value}))


def test_an_ip_table_with_a_bad_row_is_refused(tmp_path):
    table = tmp_path / "ip.csv"
    table.write_text("10.0.0.0/8,北京\nnot-a-network,河南\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="COMMUNITY_IP_PROVINCES_FILE"):
        community_settings({**DEFAULTS, "COMMUNITY_IP_PROVINCES_FILE": str(table)})
