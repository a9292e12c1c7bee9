"""Leads JSON API: the pool and my leads, claim, follow-ups, stage moves with errors naming the field, the funnel."""

from __future__ import annotations

import pytest

from app.config import ConfigError
from milepost.factory import create_app
from tests import conftest
from tests.factories import auth_header
from tests.leads.helpers import make_world, pool_lead


def test_claim_follow_up_and_win_over_the_api(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    headers = auth_header(session, world.sales[0])

    listed = client.get("/api/v1/leads/mine", headers=headers).get_json()
    claimed = client.post(f"/api/v1/leads/{lead.id}/claim", headers=headers)
    followed = client.post(
        f"/api/v1/leads/{lead.id}/follow-ups", json={"kind": "call", "outcome": "reached"}, headers=headers
    )
    won = client.post(f"/api/v1/leads/{lead.id}/stage", json={"stage": "won"}, headers=headers)

    assert [item["id"] for item in listed["pool"]] == [lead.id]
    assert listed["pool"][0]["phone"] != lead.phone
    assert (claimed.status_code, followed.status_code, won.status_code) == (200, 201, 200)
    assert won.get_json()["stage"] == "won"


def test_claim_twice_is_a_conflict_and_lost_without_reason_names_the_field(client, session):
    world = make_world(session)
    lead = pool_lead(session, world)
    first, second = auth_header(session, world.sales[0]), auth_header(session, world.sales[1])
    client.post(f"/api/v1/leads/{lead.id}/claim", headers=first)

    again = client.post(f"/api/v1/leads/{lead.id}/claim", headers=second)
    lost = client.post(f"/api/v1/leads/{lead.id}/stage", json={"stage": "lost"}, headers=first)
    bad = client.post(f"/api/v1/leads/{lead.id}/follow-ups", json={"kind": "fax", "outcome": "x"}, headers=first)

    assert again.status_code == 409
    assert (lost.status_code, lost.get_json()["error"]["field"]) == (400, "lost_reason")
    assert (bad.status_code, bad.get_json()["error"]["field"]) == (400, "kind")


def test_funnel_is_for_managers_and_the_oem(client, session):
    world = make_world(session)
    pool_lead(session, world)

    manager = client.get("/api/v1/leads/funnel", headers=auth_header(session, world.manager))
    seller = client.get("/api/v1/leads/funnel", headers=auth_header(session, world.sales[0]))

    assert manager.status_code == 200 and manager.get_json()["cohorts"][0]["size"] == 1
    assert seller.status_code == 403


def test_bad_leads_setting_stops_the_app_naming_it(connection, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))

    with pytest.raises(ConfigError, match="LEADS_QUALIFY_GRADE"):
        create_app(conftest.test_settings(database_url, LEADS_QUALIFY_GRADE="Z"), connection=connection)
