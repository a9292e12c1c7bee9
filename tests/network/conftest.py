"""Fixtures for network tests."""

from __future__ import annotations

import pytest

from tests.network.factories import load_highways


@pytest.fixture
def routes(session):
    return load_highways(session)
