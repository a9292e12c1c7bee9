"""A shop's standing reaches every worker's search at once: reviews publishes it through network."""

from __future__ import annotations

from app.security import Role
from milepost.factory import create_app
from tests import conftest
from tests.factories import auth_header, make_user
from tests.network.factories import make_shop

SEARCH = "/api/v1/shops?lat=34.75&lon=113.65&k=5&certified=true"


def _found(client) -> list[str]:
    response = client.get(SEARCH)
    assert response.status_code == 200, response.get_json()
    return [item["code"] for item in response.get_json()["items"]]


def test_a_suspended_shop_leaves_certified_search_in_every_worker_at_once(app, connection, database_url, session):
    other_worker = create_app(conftest.test_settings(database_url), connection=connection)
    shop = make_shop(session, lat=34.76, lon=113.65)
    oem = make_user(session, Role.OEM_ADMIN)
    first, second = app.test_client(), other_worker.test_client()
    assert _found(first) == _found(second) == [shop.code]  # both workers have built their index

    response = first.post(
        f"/api/v1/shops/{shop.code}/certification/override",
        json={"tier": "suspended", "reason": "counterfeit parts found at the audit"},
        headers=auth_header(session, oem),
    )

    assert response.status_code == 200, response.get_json()
    assert _found(first) == [] and _found(second) == []
