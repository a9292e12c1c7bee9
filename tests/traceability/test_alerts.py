"""Alerts: attributed per organization, reopened on a recurrence after the OEM closed them, status changes logged."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.security import Role
from tests.factories import make_organization, make_user
from tests.traceability.factories import make_batch
from traceability.alerts import SIGNAL_BITS, alert_to_dict, raise_alert, update_alert_status
from traceability.commissioning import list_batch_parts
from traceability.models import Alert, Part


@pytest.fixture
def parts(session):
    return list_batch_parts(session, make_batch(session, quantity=2))


@pytest.fixture
def oem(session):
    return make_user(session, Role.OEM_ADMIN)


def signals(session, part) -> int:
    return session.scalar(select(Part.alert_signals).where(Part.id == part.id))


def test_a_second_organization_doing_the_same_is_attributed_its_own_alert(session, parts):
    first, second = make_organization(session, kind="dealer"), make_organization(session, kind="dealer")

    raise_alert(session, "resale_after_install", part=parts[0], organization_id=first.id)
    raise_alert(session, "resale_after_install", part=parts[0], organization_id=second.id)
    raise_alert(session, "resale_after_install", part=parts[0], organization_id=second.id)

    counted = dict(session.execute(select(Alert.organization_id, Alert.occurrences)).all())
    assert counted == {first.id: 1, second.id: 2}


def test_a_recurrence_after_closing_reopens_the_alert_and_says_so(session, parts, oem):
    alert_id = raise_alert(session, "many_cities", part=parts[0])
    update_alert_status(session, oem, alert_id, "closed", "same driver, two depots")

    again = raise_alert(session, "many_cities", part=parts[0])

    alert = session.get(Alert, again)
    session.refresh(alert)
    assert again == alert_id
    assert alert.status == "open"
    assert alert_to_dict(alert)["reopened"] == 1
    assert alert_to_dict(alert)["reopened_at"] is not None
    assert signals(session, parts[0]) == SIGNAL_BITS["many_cities"]


def test_closing_one_organizations_alert_keeps_the_part_suspect_while_another_is_open(session, parts, oem):
    first, second = make_organization(session, kind="shop"), make_organization(session, kind="shop")
    first_id = raise_alert(session, "activation_after_install", part=parts[0], organization_id=first.id)
    raise_alert(session, "activation_after_install", part=parts[0], organization_id=second.id)

    update_alert_status(session, oem, first_id, "closed")

    assert signals(session, parts[0]) == SIGNAL_BITS["activation_after_install"]


def test_status_changes_are_in_the_activity_log_with_their_note(session, parts, oem):
    alert_id = raise_alert(session, "many_cities", part=parts[0])

    update_alert_status(session, oem, alert_id, "investigating", "called the dealer")

    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.subject_type == "alert"))
    assert (entry.actor_id, entry.action, entry.subject_id) == (
        oem.id,
        "traceability.alert_status_changed",
        str(alert_id),
    )
    assert entry.details == {"from": "open", "to": "investigating", "note": "called the dealer"}
