"""Security headers on every response, and templates that keep to the policy (no inline scripts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.security import Role
from milepost.factory import create_app
from tests.conftest import test_settings as settings_for
from tests.factories import auth_header, make_user, sign_in_client

ROOT = Path(__file__).parents[3]
HTML = {"Accept": "text/html"}


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/v1/shops/999999", "/login", "/no-such-page"])
def test_every_response_forbids_framing_sniffing_and_foreign_scripts(client, path):
    headers = client.get(path, headers=HTML).headers

    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")  # the test site is https


def test_anonymous_public_answers_may_be_cached_but_signed_in_ones_never(session, client):
    oem = make_user(session, Role.OEM_ADMIN)

    assert client.get("/api/v1/shops").headers.get("Cache-Control") != "no-store"
    assert client.get("/api/v1/shops", headers=auth_header(session, oem)).headers["Cache-Control"] == "no-store"
    sign_in_client(client, oem)
    assert client.get("/", headers=HTML).headers["Cache-Control"] == "no-store"


def test_a_plain_http_public_address_sends_no_hsts(connection, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))
    app = create_app(settings_for(database_url, PUBLIC_BASE_URL="http://127.0.0.1:8000"), connection=connection)

    assert "Strict-Transport-Security" not in app.test_client().get("/healthz").headers


def test_the_map_tile_server_is_the_only_foreign_image_source(connection, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))
    settings = settings_for(database_url, MAP_TILE_URL="https://{s}.tiles.example.cn/{z}/{x}/{y}.png")
    app = create_app(settings, connection=connection)

    policy = app.test_client().get("/healthz").headers["Content-Security-Policy"]

    assert "img-src 'self' data: https://*.tiles.example.cn;" in policy


def test_no_template_carries_an_inline_script_or_event_handler():
    offenders, checked = [], 0
    # Only our packages: a virtual environment inside the checkout (.venv, CI's .ci-venv) holds other projects'.
    packages = [path for path in ROOT.iterdir() if (path / "__init__.py").exists()]
    for template in (t for package in packages for t in package.glob("**/templates/**/*.html")):
        checked += 1
        text = template.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+\s*=", text):
            offenders.append(str(template.relative_to(ROOT)))

    assert checked >= 40  # the shell's and every domain's templates were read
    assert offenders == []
