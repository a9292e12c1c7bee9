"""The demo data set: loads quickly, its chain verifies, and its planted label URLs show the right verdicts."""

from __future__ import annotations

import pytest

from app.signing import KeyRing
from milepost.demo import load_demo
from tests.conftest import PUBLIC_BASE_URL
from traceability.chain import verify_chain

JSON = {"Accept": "application/json"}


@pytest.fixture
def demo_lines(app, session):
    with app.app_context():
        return load_demo(app, size="small")


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
def test_demo_label_urls_show_their_verdicts(client, demo_lines, label, verdict):
    assert client.get(_url(demo_lines, label), headers=JSON).json["verdict"] == verdict


def test_demo_chain_verifies(app, session, demo_lines):
    checked, problem = verify_chain(session, KeyRing.from_spec(app.config["CODE_KEYS"]))

    assert problem is None
    assert checked > 100
