"""The requests bench_volume measures are what it says they are, on a small generated year (PostgreSQL only):
a genuine scan is genuine, an unknown serial and a wrong tag are counterfeit for that reason, a plaque is
valid, and the search paths answer with shops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.bench_volume import build_requests
from bench.generate import KEYS
from milepost.factory import create_app
from tests import conftest

PER_PATH = 5


@pytest.fixture
def bench(volume_engine, tmp_path, monkeypatch) -> Iterator[tuple]:
    url = volume_engine.url.render_as_string(hide_password=False)
    endpoints, _parts = build_requests(url)
    connection = volume_engine.connect()
    transaction = connection.begin()
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(conftest.test_settings(url, CODE_KEYS=KEYS), connection=connection)
    yield app.test_client(), endpoints
    transaction.rollback()
    connection.close()


def _get(client, item, accept="application/json"):
    path = item if isinstance(item, str) else item[0]
    return client.get(path, headers={"Accept": accept})


def test_every_path_of_the_volume_bench_answers_what_it_names(bench):
    client, endpoints = bench

    genuine = [_get(client, item).get_json() for item in endpoints["scan JSON"][:PER_PATH]]
    page = [_get(client, item[0], item[1]) for item in endpoints["scan HTML"][:PER_PATH]]
    unknown = [_get(client, item).get_json() for item in endpoints["unknown serial"][:PER_PATH]]
    bad = [_get(client, item).get_json() for item in endpoints["bad tag"][:PER_PATH]]
    plaques = [_get(client, item[0]).get_json() for item in endpoints["plaque page"][:PER_PATH]]
    nearest = [_get(client, item).get_json() for item in endpoints["nearest shops"][:PER_PATH]]
    ahead = [_get(client, item) for item in endpoints["shops ahead"][:PER_PATH]]

    assert [scan["verdict"] for scan in genuine] == ["genuine"] * PER_PATH
    assert all(response.status_code == 200 and response.mimetype == "text/html" for response in page)
    assert [(scan["verdict"], scan["reasons"]) for scan in unknown] == [("counterfeit", ["unknown_serial"])] * PER_PATH
    assert [(scan["verdict"], scan["reasons"]) for scan in bad] == [("counterfeit", ["bad_tag"])] * PER_PATH
    assert [plaque["status"] for plaque in plaques] == ["valid"] * PER_PATH
    assert all(len(answer["items"]) == 10 for answer in nearest)
    assert all(response.status_code == 200 for response in ahead)
