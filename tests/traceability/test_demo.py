"""The demo data set: loads quickly, its chain verifies, and its planted label URLs show the right verdicts."""

from __future__ import annotations

import pytest

from app.db import SESSIONMAKER_KEY
from app.signing import KeyRing
from tests.conftest import PUBLIC_BASE_URL
from traceability.chain import verify_chain

JSON = {"Accept": "application/json"}


@pytest.fixture
def demo_lines(demo_database):
    return demo_database.lines


def _url(lines: list[str], label: str) -> str:
    line = next(line for line in lines if line.startswith(label))
    return line.split()[-1].removeprefix(PUBLIC_BASE_URL)


@pytest.mark.parametrize(
    ("label", "verdict"),
    [
        ("Genuine part", "genuine"),
        ("Cloned code", "suspect"),
        ("Forged code", "counterfeit"),
        ("Installed part", "installed"),
        ("Destroyed part", "void"),
        ("Recalled part", "recalled"),
    ],
)
def test_demo_label_urls_show_their_verdicts(demo_app, demo_lines, label, verdict):
    client = demo_app.test_client()

    assert client.get(_url(demo_lines, label), headers=JSON).json["verdict"] == verdict


def test_demo_chain_verifies(demo_app):
    with demo_app.extensions[SESSIONMAKER_KEY]() as session:
        checked, problem = verify_chain(session, KeyRing.from_spec(demo_app.config["CODE_KEYS"]))

    assert problem is None
    assert checked > 100
