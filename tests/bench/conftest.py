"""A small generated year (bench.generate) in a database of its own, made once per test run (PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.db import make_engine
from bench.generate import generate
from tests.conftest import _fresh_postgresql_database, _run_wide, _worker_name

# 40,000 parts, 200 shops: enough rows that every table is several pages, generated in about 15 s.
VOLUME_SCALE = 0.002


@pytest.fixture(scope="session")
def volume_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine on a database filled by the generator at VOLUME_SCALE.

    Alone, the process generates into `<TEST_DATABASE_URL>_volume`. Under pytest-xdist the first process that
    needs it generates that database once for the run, under the run-wide lock, and every process works on a
    copy of its own (CREATE DATABASE ... TEMPLATE: the statistics come along, so the plans are the same).

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
    if _worker_name() == "main":
        rendered = _fresh_postgresql_database(url, "volume")
        generate(rendered, VOLUME_SCALE, processes=2, seed=5, sample=20, quiet=True)
    else:
        with _run_wide(tmp_path_factory, "shared-volume") as shared:
            built = shared / "built"
            template = f"{make_url(url).database}_volume"
            if not built.exists():
                generate(
                    _fresh_postgresql_database(url, "volume"), VOLUME_SCALE, processes=2, seed=5, sample=20, quiet=True
                )
                built.touch()
            rendered = _fresh_postgresql_database(url, f"volume_{_worker_name()}", template=template)
    engine = make_engine(rendered)
    yield engine
    engine.dispose()
