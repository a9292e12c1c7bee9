"""Test set-up: the schema from migrations, one rolled-back transaction per test shared with the app.

The same suite runs on SQLite (always) and on PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, exists, literal, make_url, select, text, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.db import Base, make_engine, make_sessionmaker
from milepost import migrate
from milepost.factory import create_app
from milepost.model_registry import load_all_models
from tests import rule_cache
from tests.browser import CHROMIUM, LiveServer, PageWatch, launch_chromium, new_context

rule_cache.install()

TEST_KEYS = ",".join(
    [
        "A:dGVzdC1rZXktYS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OQ==",
        "B:dGVzdC1rZXktYi0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OQ==",
    ]
)
PUBLIC_BASE_URL = "https://mp.test"


def pytest_report_header() -> str:
    return f"database: {os.environ.get('TEST_DATABASE_URL') or 'sqlite (temporary file)'}"


def _admin_engine(url: str) -> Engine:
    """An autocommit engine on the server's `postgres` database, to create and drop test databases."""
    return make_engine(
        make_url(url).set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )


def _fresh_postgresql_database(url: str, suffix: str, template: str | None = None) -> str:
    """Create (anew) the database named like `url`'s plus `suffix`, a copy of the database `template` if
    given (CREATE DATABASE ... TEMPLATE: a file copy; nobody may be connected to it), and return its URL.

    A test database loses nothing worth an fsync per commit: its sessions commit without waiting for the WAL
    to reach the disk (the disk of a shared CI machine is slow), and without JIT compiling (a query on test
    data is over before the compiled code would pay). Servers the tests start connect to it and inherit both."""
    base = make_url(url)
    name = f"{base.database}_{suffix}"
    admin = _admin_engine(url)
    with admin.connect() as connection:
        if template is not None:
            # A builder's pooled connections would block the copy; nobody uses the template after the build.
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": template},
            )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        connection.execute(text(f'ALTER DATABASE "{name}" SET jit = off'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _worker_name() -> str:
    """Return the pytest-xdist worker's name ("gw0", ...) or "main" when the suite runs in one process."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def _run_wide(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold the lock of the folder `name` that every process of this run shares, and yield the folder: the
    first process to get it builds what is shared there, the others find it built."""
    shared = tmp_path_factory.getbasetemp().parent / name
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield shared


def _copy_sqlite(source: Path | str, target: Path | str) -> None:
    """Copy a SQLite database with the backup API, not as a file: its last writes may still sit in the WAL file."""
    original, copy = sqlite3.connect(source), sqlite3.connect(target)
    original.backup(copy)
    original.close()
    copy.close()


def _migrate(url: str) -> None:
    """Build the schema in the database `url` with the migrations, from nothing."""
    load_all_models()
    engine = make_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # A throwaway test database: start from nothing so migrations, not leftovers, build the schema.
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    with engine.begin() as connection:
        migrate.upgrade(connection=connection)
    engine.dispose()


@dataclass
class SuiteDatabase:
    """This process's test database, and whether the migrations have built its schema already."""

    url: str
    migrated: bool


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> SuiteDatabase:
    """The suite's database. Alone, the process migrates the database named (or a temporary SQLite file).

    Under pytest-xdist the first process migrates a template once for the run (the migrations are slow: on
    PostgreSQL they create every monthly partition); each process then gets a copy of its own beside the
    database named (CREATE DATABASE ... TEMPLATE on PostgreSQL, a copy of the file on SQLite)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if _worker_name() == "main":
        return SuiteDatabase(url or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}", migrated=False)
    with _run_wide(tmp_path_factory, "shared-schema") as shared:
        built = shared / "built"
        if url:
            template = f"{make_url(url).database}_schema_template"
            if not built.exists():
                _migrate(_fresh_postgresql_database(url, "schema_template"))
                built.touch()
            return SuiteDatabase(_fresh_postgresql_database(url, _worker_name(), template=template), migrated=True)
        if not built.exists():
            _migrate(f"sqlite:///{shared / 'schema.sqlite3'}")
            built.touch()
        own = tmp_path_factory.mktemp("db") / "test.sqlite3"
        _copy_sqlite(shared / "schema.sqlite3", own)
        return SuiteDatabase(f"sqlite:///{own}", migrated=True)


@pytest.fixture(scope="session")
def database_url(test_database: SuiteDatabase) -> str:
    return test_database.url


@pytest.fixture(scope="session")
def migrated_template(test_database: SuiteDatabase, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a database the migrations built from nothing and nobody works in, to copy with
    `copy_migrated`: a test that needs a migrated database of its own (the CLI's) but does not test the
    migrations gets one in about a second instead of migrating one (5 s on SQLite).

    Under pytest-xdist it is the run's schema template (`test_database`); alone, the process migrates one
    the first time a test asks."""
    url = os.environ.get("TEST_DATABASE_URL")
    if _worker_name() != "main":
        if url:
            return (
                make_url(url)
                .set(database=f"{make_url(url).database}_schema_template")
                .render_as_string(hide_password=False)
            )
        return f"sqlite:///{tmp_path_factory.getbasetemp().parent / 'shared-schema' / 'schema.sqlite3'}"
    if url:
        template = _fresh_postgresql_database(url, "schema_template")
    else:
        template = f"sqlite:///{tmp_path_factory.mktemp('schema-template') / 'schema.sqlite3'}"
    _migrate(template)
    return template


def copy_migrated(template: str, target: str) -> str:
    """Make the database `target` (a SQLite file or a PostgreSQL database that does not exist yet) a copy of
    the migrated template `template`, and return `target`."""
    if template.startswith("postgresql"):
        admin = _admin_engine(template)
        with admin.connect() as connection:
            connection.execute(
                text(f'CREATE DATABASE "{make_url(target).database}" TEMPLATE "{make_url(template).database}"')
            )
        admin.dispose()
    else:
        _copy_sqlite(make_url(template).database, make_url(target).database)
    return target


@pytest.fixture(scope="session")
def validate_openapi(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict], None]:
    """Return `validate_openapi(document)`: raise unless `document` is valid OpenAPI 3.1 (openapi-spec-validator).

    Validating the app's document takes ~7 s of CPU and two tests check it: the same document (byte for byte,
    by its digest) is validated once per run, the second test finds it already passed."""
    from openapi_spec_validator import validate

    def check(document: dict) -> None:
        digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        with _run_wide(tmp_path_factory, "openapi-valid") as shared:
            passed = shared / digest
            if not passed.exists():
                validate(document)
                passed.touch()

    return check


@dataclass
class DemoDatabase:
    """The small demo data set, built once per test process in a database of its own."""

    url: str
    lines: list[str]
    instance: str


def _build_demo(url: str, instance: str) -> list[str]:
    """Run `milepost demo --size small` against the empty database `url` (the command migrates it first, as on a
    fresh machine) and return its output's lines."""
    from click.testing import CliRunner

    from milepost.cli import main as milepost_command

    environment = {
        "MILEPOST_DATABASE_URL": url,
        "MILEPOST_INSTANCE_PATH": instance,
        "MILEPOST_SECRET_KEY": "test-secret",
        "MILEPOST_CODE_KEYS": TEST_KEYS,
        "MILEPOST_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    result = CliRunner().invoke(milepost_command, ["demo", "--size", "small"], env=environment, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [line.strip() for line in result.output.splitlines()]


@pytest.fixture(scope="session")
def demo_database(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    """Build the small demo once per test run with `milepost demo --size small`, as an operator would; tests
    read it (and what requests record), never rely on their own writes. The command's output is kept: its
    logins and planted label URLs (tests/app/test_cli.py checks them, so the CLI needs no demo of its own).

    Under pytest-xdist the first process that needs it builds it once into a template beside the run's
    temporary directories; every process then works on a copy of its own (a file copy on SQLite,
    CREATE DATABASE ... TEMPLATE on PostgreSQL), so requests one process records never reach another's."""
    base_url = os.environ.get("TEST_DATABASE_URL")
    own_instance = tmp_path_factory.mktemp("demo-instance")
    if _worker_name() == "main":
        if base_url:
            own_url = _fresh_postgresql_database(base_url, "demo_main")
        else:
            own_url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
        yield DemoDatabase(own_url, _build_demo(own_url, str(own_instance)), str(own_instance))
        return
    with _run_wide(tmp_path_factory, "shared-demo") as shared:
        built = shared / "output.json"
        if base_url:
            template_url = make_url(base_url).set(database=f"{make_url(base_url).database}_demo_template")
        else:
            template_url = make_url(f"sqlite:///{shared / 'demo.sqlite3'}")
        if not built.exists():
            if base_url:
                _fresh_postgresql_database(base_url, "demo_template")
            lines = _build_demo(template_url.render_as_string(hide_password=False), str(shared / "instance"))
            built.write_text(json.dumps(lines))
        lines = json.loads(built.read_text())
        if base_url:
            own_url = _fresh_postgresql_database(base_url, f"demo_{_worker_name()}", template=template_url.database)
        else:
            own_url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
            _copy_sqlite(template_url.database, make_url(own_url).database)
        shutil.copytree(shared / "instance", own_instance, dirs_exist_ok=True)
    yield DemoDatabase(own_url, lines, str(own_instance))


@pytest.fixture
def demo_app(demo_database: DemoDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on the shared demo database (real commits: keep to reads and to what requests record)."""
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(test_settings(demo_database.url))
    yield app
    app.extensions["milepost.engine"].dispose()


@pytest.fixture(scope="session")
def engine(test_database: SuiteDatabase) -> Iterator[Engine]:
    load_all_models()
    if not test_database.migrated:
        _migrate(test_database.url)
    engine = make_engine(test_database.url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    session = make_sessionmaker(connection)()
    yield session
    session.close()


def test_settings(database_url: str, **overrides: object) -> dict:
    """Return the settings every test app uses."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "CODE_KEYS": TEST_KEYS,
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        **overrides,
    }


@pytest.fixture
def app(connection: Connection, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    return create_app(test_settings(database_url), connection=connection)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def committed_engine(engine: Engine) -> Iterator[Engine]:
    """The real database for tests that need several connections (concurrency); emptied afterwards."""
    yield engine
    with engine.begin() as connection:
        filled = _filled_tables(connection)
        if "activity_log" in filled:
            _allow_activity_log_delete(connection, allow=True)
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in filled:
                connection.execute(table.delete())
        if "activity_log" in filled:
            _allow_activity_log_delete(connection, allow=False)


def _filled_tables(connection: Connection) -> set[str]:
    """Return the names of the tables that hold a row, in one query (a test fills a few of the many)."""
    probes = [
        select(literal(table.name).label("name")).where(exists().select_from(table))
        for table in Base.metadata.sorted_tables
    ]
    return set(connection.scalars(union_all(*probes)))


# The activity log refuses DELETE in the database (migration 0008activity); only this clean-up of a throwaway test
# database lifts that, inside its own transaction.
_SQLITE_NO_DELETE = (
    "CREATE TRIGGER activity_log_no_delete BEFORE DELETE ON activity_log "
    "BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END"
)


def _allow_activity_log_delete(connection: Connection, allow: bool) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"ALTER TABLE activity_log {'DISABLE' if allow else 'ENABLE'} TRIGGER USER"))
    elif allow:
        connection.execute(text("DROP TRIGGER IF EXISTS activity_log_no_delete"))
    else:
        connection.execute(text(_SQLITE_NO_DELETE))


@pytest.fixture
def committed_session(committed_engine: Engine) -> Iterator[Session]:
    """A session whose commits are real, so a live server (another thread) sees the data; emptied afterwards."""
    session = make_sessionmaker(committed_engine)()
    yield session
    session.close()


@pytest.fixture
def live_server(
    request: pytest.FixtureRequest,
    committed_engine: Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveServer]:
    """Milepost served on 127.0.0.1 and a free port from a thread, on the committed test database."""
    if "connection" in request.fixturenames:
        # On SQLite the per-test transaction holds the write lock; the server would wait on it forever.
        pytest.fail("a live-server test cannot also use the rolled-back `session`/`app`; use `committed_session`")
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    server = LiveServer(lambda url: create_app(test_settings(database_url, PUBLIC_BASE_URL=url))).start()
    yield server
    server.stop()
    assert not server.errors, f"the live server failed: {server.errors!r}"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's headless chromium, shared by the session's page tests."""
    if not CHROMIUM.exists():
        pytest.skip(f"no chromium at {CHROMIUM}: install it with `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server: LiveServer) -> Iterator[Callable[..., object]]:
    """Return `open_page(**context_options)`: a page in its own context (phone size, zh-CN unless given).

    Afterwards the test fails if any page requested a URL off 127.0.0.1 or raised a JavaScript error.
    """
    watch = PageWatch()
    contexts = []

    def open_new(**options: object):
        context = new_context(browser, live_server.url, **options)
        # Generous: on a loaded 2-core CI machine a page that computes coverage can take several seconds.
        context.set_default_timeout(30_000)
        watch.attach(context)
        contexts.append(context)
        return context.new_page()

    yield open_new
    for context in contexts:
        context.close()
    assert not watch.problems(), "\n".join(watch.problems())


@pytest.fixture
def page(open_page: Callable[..., object]) -> object:
    """A phone-sized chromium page (zh-CN) on the live server; see `open_page` for what it must not do."""
    return open_page()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives the browser, so `-m "not browser"` skips them."""
    for item in items:
        if {"browser", "page", "open_page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
