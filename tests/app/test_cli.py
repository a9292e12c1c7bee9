"""The `milepost` command on a database of its own: init, db, users create, demo, rotate-keys."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.crm.identifiers import normalize_vin
from app.crm.models import Organization, Vehicle
from app.crm.regions import PROVINCES
from app.db import make_engine
from app.security import User
from milepost.cli import main, served_origin
from tests.conftest import copy_migrated
from tests.factories import make_organization


def _cli_database(database_url: str, tmp_path, template: str | None) -> Iterator[str]:
    """A database of the suite's kind that only the CLI uses (the CLI migrates and drops schemas): empty, or a
    copy of the migrated `template`; a PostgreSQL one is dropped afterwards."""
    if not database_url.startswith("postgresql"):
        url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
        yield copy_migrated(template, url) if template else url
        return
    name = f"mp_cli_{uuid.uuid4().hex[:10]}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    if template:
        copy_migrated(template, url)
    else:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_database_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database for the CLI, for the tests of migrating from nothing."""
    yield from _cli_database(database_url, tmp_path, template=None)


@pytest.fixture
def cli_database_url(database_url: str, migrated_template: str, tmp_path) -> Iterator[str]:
    """A database for the CLI that the migrations have built (a copy of the suite's migrated template: a test
    that does not test migrating need not pay for it). `milepost init` on it finds nothing to migrate."""
    yield from _cli_database(database_url, tmp_path, template=migrated_template)


def _milepost_runner(database_url: str, tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("MILEPOST_DATABASE_URL", database_url)
    monkeypatch.delenv("MILEPOST_SECRET_KEY", raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def milepost(cli_database_url, tmp_path, monkeypatch):
    """Return `milepost(*args)` running the CLI with its own instance folder and migrated database."""
    return _milepost_runner(cli_database_url, tmp_path, monkeypatch)


@pytest.fixture
def milepost_on_empty(empty_database_url, tmp_path, monkeypatch):
    """Return `milepost(*args)` running the CLI with its own instance folder and an empty database."""
    return _milepost_runner(empty_database_url, tmp_path, monkeypatch)


def scalar(url: str, statement):
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(statement).scalar()
    finally:
        engine.dispose()


def test_init_writes_private_secrets_and_migrates(milepost_on_empty, tmp_path, empty_database_url):
    result = milepost_on_empty("init")

    secrets_file = tmp_path / "instance" / "secrets.json"
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert set(json.loads(secrets_file.read_text())) == {"SECRET_KEY", "CODE_KEYS"}
    engine = make_engine(empty_database_url)
    assert {"users", "organizations", "vehicles"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_init_twice_keeps_the_secrets(milepost, tmp_path):
    milepost("init")
    first = (tmp_path / "instance" / "secrets.json").read_text()

    result = milepost("init")

    assert result.exit_code == 0
    assert "Kept" in result.output
    assert (tmp_path / "instance" / "secrets.json").read_text() == first


def test_rotate_keys_adds_a_newer_key(milepost, tmp_path):
    milepost("init")

    result = milepost("rotate-keys")

    keys = json.loads((tmp_path / "instance" / "secrets.json").read_text())["CODE_KEYS"]
    assert result.exit_code == 0
    assert [item.split(":")[0] for item in keys.split(",")] == ["A", "B"]


def test_db_downgrade_and_upgrade(milepost, cli_database_url):
    milepost("init")

    down = milepost("db", "downgrade", "--to", "base")
    tables_down = inspect_tables(cli_database_url)
    up = milepost("db", "upgrade")

    assert (down.exit_code, up.exit_code) == (0, 0)
    assert "users" not in tables_down
    assert "users" in inspect_tables(cli_database_url)


def inspect_tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_users_create_staff_with_organization(milepost, cli_database_url):
    milepost("init")
    engine = make_engine(cli_database_url)
    with Session(engine) as session:
        make_organization(session, kind="dealer", code="DLR-0001")
        session.commit()
    engine.dispose()

    result = milepost(
        "users",
        "create",
        "--email",
        "Li@Example.cn",
        "--password",
        "long-enough-1",
        "--role",
        "dealer_staff",
        "--org",
        "dlr-0001",
    )

    assert result.exit_code == 0, result.output
    assert scalar(cli_database_url, select(User.role).where(User.email == "li@example.cn")) == "dealer_staff"


def test_users_create_driver_by_phone(milepost, cli_database_url):
    milepost("init")

    result = milepost("users", "create", "--phone", "139 0000 1111", "--password", "long-enough-1", "--role", "driver")

    assert result.exit_code == 0, result.output
    assert scalar(cli_database_url, select(User.role).where(User.phone == "13900001111")) == "driver"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--email", "a@b.cn", "--password", "long-enough-1", "--role", "dealer_staff"], "organization"),
        (["--email", "a@b.cn", "--password", "long-enough-1", "--role", "pilot"], "unknown role"),
        (["--email", "a@b.cn", "--password", "short", "--role", "oem_admin", "--org", "NONE"], "no organization"),
        (["--password", "long-enough-1", "--role", "driver"], "email or a phone"),
        (["--phone", "12345", "--password", "long-enough-1", "--role", "driver"], "mobile"),
        (["--email", "not-an-email", "--password", "long-enough-1", "--role", "driver"], "email"),
    ],
)
def test_users_create_errors_exit_non_zero(milepost, arguments, message):
    milepost("init")

    result = milepost("users", "create", *arguments)

    assert result.exit_code != 0
    assert message in result.output


def test_users_create_duplicate_email_exits_non_zero(milepost):
    milepost("init")
    arguments = ["users", "create", "--email", "a@b.cn", "--password", "long-enough-1", "--role", "driver"]
    milepost(*arguments)

    result = milepost(*arguments)

    assert result.exit_code != 0
    assert "exists" in result.output


def test_demo_small_loads_valid_data_and_prints_logins(demo_database):
    # The shared test demo is built by `milepost demo --size small` (tests/conftest.py): this checks what it made.
    output = demo_database.lines
    engine = make_engine(demo_database.url)
    with engine.connect() as connection:
        vins = connection.execute(select(Vehicle.vin)).scalars().all()
        warehouses = dict(
            connection.execute(
                select(Organization.province, Organization.city).where(Organization.kind == "warehouse")
            ).all()
        )
    engine.dispose()

    assert any("oem@milepost.demo" in line for line in output) and any("13800138000" in line for line in output)
    assert len(vins) > 60
    assert all(normalize_vin(vin) == vin for vin in vins)
    # One parts warehouse in each provincial capital.
    assert warehouses == {province.name: province.capital for province in PROVINCES}


@pytest.mark.parametrize(
    ("bind", "origin"),
    [
        ("127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("localhost:8000", "http://localhost:8000"),
        ("0.0.0.0:8000", None),
        ("[::]:8000", None),
        ("unix:/run/milepost.sock", None),
    ],
)
def test_served_origin_is_the_bound_address_unless_it_is_a_wildcard(bind, origin):
    assert served_origin(bind) == origin


def test_served_origin_is_https_when_serving_with_a_certificate():
    assert served_origin("192.168.1.20:8443", https=True) == "https://192.168.1.20:8443"


def test_serve_hands_the_certificate_to_gunicorn(tmp_path, monkeypatch):
    from milepost import server

    seen = {}
    monkeypatch.setattr(server.MilepostServer, "run", lambda self: seen.update(self.options))

    server.run_gunicorn("0.0.0.0:8443", 1, certfile="lan.crt", keyfile="lan.key")

    assert seen["certfile"] == "lan.crt" and seen["keyfile"] == "lan.key" and seen["bind"] == "0.0.0.0:8443"


@pytest.mark.slow
def test_serve_runs_gunicorn_that_answers_health_and_scans_while_slow_clients_hold_connections(
    cli_database_url, tmp_path
):
    # One server boot for both (each boot runs the migrations). Issue 10 (Also): a few slow clients
    # (slowloris, phones on a weak signal) must not freeze the service.
    port = _free_port()
    server = _serve(cli_database_url, tmp_path, port)
    slow = []
    try:
        health = _wait_for_health(server, port)
        for _ in range(40):  # far more than the two workers a synchronous server would have
            held = socket.create_connection(("127.0.0.1", port))
            held.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(held)
        time.sleep(1)
        answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5))
        scan = urllib.request.Request(
            f"http://127.0.0.1:{port}/01/06901234000016/21/NOSUCHPART?c=A{'0' * 16}",
            headers={"Accept": "application/json"},
        )
        verdict = json.load(urllib.request.urlopen(scan, timeout=10))
    finally:
        for held in slow:
            held.close()
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")

    assert health == {"status": "ok", "database": "ok", "dialect": make_url(cli_database_url).get_backend_name()}, (
        output
    )
    assert answer["status"] == "ok"
    assert verdict["verdict"] == "counterfeit"
    assert f"Milepost on http://127.0.0.1:{port}" in output
    assert stat.S_IMODE((tmp_path / "instance" / "secrets.json").stat().st_mode) == 0o600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(database_url: str, tmp_path, port: int) -> subprocess.Popen:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MILEPOST_")}
    environment.update(MILEPOST_INSTANCE_PATH=str(tmp_path / "instance"), MILEPOST_DATABASE_URL=database_url)
    command = [sys.executable, "-c", "from milepost.cli import main; main()", "serve", "--bind", f"127.0.0.1:{port}"]
    return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_for_health(server: subprocess.Popen, port: int) -> dict | None:
    deadline, health = time.monotonic() + 60, None
    while health is None and time.monotonic() < deadline and server.poll() is None:
        try:
            health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2))
        except OSError:
            time.sleep(0.3)
    return health


def test_every_start_prints_the_demo_logins_again_while_the_demo_is_there(demo_database, monkeypatch, capsys):
    # Issue 13 item 8: the logins scroll away with the server's log; `milepost serve` prints them on each start.
    from milepost.demo import print_demo_logins
    from milepost.factory import create_app
    from tests.conftest import test_settings as settings_for

    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", demo_database.instance)
    app = create_app(settings_for(demo_database.url))

    printed = print_demo_logins(app)
    app.extensions["milepost.engine"].dispose()

    assert printed and "oem@milepost.demo" in capsys.readouterr().out


def test_no_demo_logins_are_printed_once_the_demo_data_is_gone(app, session, capsys):
    from pathlib import Path

    from milepost.demo import DEMO_LOGINS_FILE, print_demo_logins

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    (Path(app.instance_path) / DEMO_LOGINS_FILE).write_text("OEM network manager  oem@milepost.demo / x\n")

    assert print_demo_logins(app) is False
    assert "oem@milepost.demo" not in capsys.readouterr().out
