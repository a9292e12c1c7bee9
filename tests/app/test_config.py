"""Settings: defaults, MILEPOST_* overrides, and failing fast on values that would only break later."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import config
from app.config import DEFAULTS, ConfigError, load_settings, validate_settings
from milepost.factory import create_app


def valid(**overrides):
    return {**load_settings(environ={}), "SECRET_KEY": "s", **overrides}


def test_missing_secret_key_fails_outside_debug_and_testing():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        validate_settings(valid(SECRET_KEY=""))


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_missing_secret_key_is_allowed_in_debug_and_testing(mode):
    validate_settings(valid(SECRET_KEY="", **{mode: True}))


def test_create_app_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("MILEPOST_SECRET_KEY", raising=False)

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("TOKEN_HOURS", "12", 12),
        ("DEBUG", "yes", True),
        ("DEBUG", "0", False),
        ("LOCALES", "zh, en", ["zh", "en"]),
        ("PUBLIC_BASE_URL", "https://mp.example.cn", "https://mp.example.cn"),
    ],
)
def test_environment_overrides_are_typed_like_the_default(name, raw, value):
    assert load_settings(environ={f"MILEPOST_{name}": raw})[name] == value


@pytest.mark.parametrize(("name", "raw"), [("TOKEN_HOURS", "twelve"), ("DEBUG", "maybe"), ("PAGE_SIZE", "1.5")])
def test_environment_values_of_the_wrong_type_fail(name, raw):
    with pytest.raises(ConfigError, match=f"MILEPOST_{name}"):
        load_settings(environ={f"MILEPOST_{name}": raw})


def test_explicit_overrides_beat_the_environment():
    settings = load_settings({"TOKEN_HOURS": 1}, environ={"MILEPOST_TOKEN_HOURS": "5"})

    assert settings["TOKEN_HOURS"] == 1


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"PUBLIC_BASE_URL": "mp.example.cn"}, "PUBLIC_BASE_URL"),
        ({"DEFAULT_LOCALE": "fr"}, "DEFAULT_LOCALE"),
        ({"PAGE_SIZE": 0}, "PAGE_SIZE"),
        ({"TOKEN_HOURS": -1}, "TOKEN_HOURS"),
        ({"LOGIN_MAX_FAILURES": 0}, "LOGIN_MAX_FAILURES"),
        ({"LOGIN_WINDOW_SECONDS": 0}, "LOGIN_WINDOW_SECONDS"),
        ({"PROXY_COUNT": -1}, "PROXY_COUNT"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
        ({"DATABASE_URL": "mysql://db/milepost"}, "DATABASE_URL"),
    ],
)
def test_bad_values_fail_naming_the_setting(overrides, name):
    with pytest.raises(ConfigError, match=name):
        validate_settings(valid(**overrides))


@pytest.mark.parametrize("spec", ["A:short", "AB:" + "a" * 44, "A:not base64!", "I:" + "QUFB" * 8])
def test_bad_code_keys_stop_the_app(tmp_path, monkeypatch, spec):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))

    with pytest.raises(ConfigError, match="CODE_KEYS"):
        create_app({"TESTING": True, "CODE_KEYS": spec, "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_instance_secrets_fill_in_missing_settings(tmp_path, monkeypatch):
    (tmp_path / "secrets.json").write_text('{"SECRET_KEY": "from-file", "CODE_KEYS": ""}')
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})

    assert app.config["SECRET_KEY"] == "from-file"


def test_every_default_has_a_comment():
    lines = Path(config.__file__).read_text(encoding="utf-8").splitlines()

    for name in DEFAULTS:
        line = next(index for index, text in enumerate(lines) if text.strip().startswith(f'"{name}":'))
        assert lines[line - 1].strip().startswith("#"), name


def test_load_settings_reads_fractional_numbers_from_the_environment():
    settings = config.load_settings(environ={"MILEPOST_REVIEW_HALF_LIFE_DAYS": "182.5"})

    assert settings["REVIEW_HALF_LIFE_DAYS"] == 182.5


def test_load_settings_rejects_a_word_where_a_number_is_expected():
    with pytest.raises(config.ConfigError, match="MILEPOST_PLAQUE_NEAR_KM"):
        config.load_settings(environ={"MILEPOST_PLAQUE_NEAR_KM": "near"})
