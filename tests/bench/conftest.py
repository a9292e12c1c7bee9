"""A small generated year (bench.generate) in a database of its own, made once per test session (PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.db import make_engine
from bench.generate import generate

# 40,000 parts, 200 shops: enough rows that every table is several pages, generated in about 15 s.
VOLUME_SCALE = 0.002


@pytest.fixture(scope="session")
def volume_engine() -> Iterator[Engine]:
    """An engine on `<TEST_DATABASE_URL>_volume`, filled by the generator at VOLUME_SCALE.

    With TEST_VOLUME_DATABASE_URL set to a database bench.generate has already filled (the full year, say),
    the cases run on that one as it is, without generating (every case rolls back what it writes)."""
    existing = os.environ.get("TEST_VOLUME_DATABASE_URL", "")
    if existing:
        if not existing.startswith("postgresql"):
            pytest.skip("query plans are checked on PostgreSQL (TEST_VOLUME_DATABASE_URL)")
        engine = make_engine(existing)
        yield engine
        engine.dispose()
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("query plans are checked on PostgreSQL (set TEST_DATABASE_URL)")
    volume = make_url(url).set(database=make_url(url).database + "_volume")
    server = make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (volume.database,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{volume.database}"')
    rendered = volume.render_as_string(hide_password=False)
    generate(rendered, VOLUME_SCALE, processes=2, seed=5, sample=20, quiet=True)
    engine = make_engine(rendered)
    yield engine
    engine.dispose()
