"""The custody state machine: which event each part state accepts, the state it leaves, and who may apply it."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import DEFAULT_TIMEZONE, local_date
from app.crm.models import Organization
from app.db import utcnow
from app.errors import Conflict, Forbidden
from app.security import Role, User, is_oem
from traceability.alerts import raise_alert
from traceability.custody_history import find_open_installation
from traceability.custody_input import part_field
from traceability.models import EventType, Installation, Part, PartState
from traceability.scan_render import add_months
from traceability.service_access import vehicle_is_at

INSTALLER_ROLES = (Role.SHOP_STAFF, Role.DEALER_STAFF)
BUSINESS_STEPS = {
    EventType.SHIP: "shipping",
    EventType.RECEIVE: "receiving",
    EventType.SELL: "retail_selling",
    EventType.INSTALL: "installing",
    EventType.REMOVE: "removing",
    EventType.DESTROY: "destroying",
    EventType.INSPECT: "inspecting",
}
DISPOSITIONS = {
    PartState.PRODUCED: "active",
    PartState.IN_TRANSIT: "in_transit",
    PartState.IN_STOCK: "sellable_accessible",
    PartState.SOLD: "retail_sold",
    PartState.INSTALLED: "in_progress",
    PartState.REMOVED: "non_sellable_other",
    PartState.DESTROYED: "destroyed",
}
# The state machine of DESIGN.md section 5: which states each event accepts, and the state it leaves.
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    EventType.SHIP: (frozenset({PartState.PRODUCED, PartState.IN_STOCK, PartState.REMOVED}), PartState.IN_TRANSIT),
    EventType.RECEIVE: (frozenset({PartState.IN_TRANSIT}), PartState.IN_STOCK),
    EventType.SELL: (frozenset({PartState.IN_STOCK}), PartState.SOLD),
    EventType.INSTALL: (frozenset({PartState.IN_STOCK, PartState.SOLD}), PartState.INSTALLED),
    EventType.REMOVE: (frozenset({PartState.INSTALLED}), PartState.REMOVED),
    EventType.DESTROY: (
        frozenset({PartState.PRODUCED, PartState.IN_TRANSIT, PartState.IN_STOCK, PartState.SOLD, PartState.REMOVED}),
        PartState.DESTROYED,
    ),
    EventType.INSPECT: (frozenset(PartState) - {PartState.DESTROYED}, None),
}
# Events that correct the record rather than move goods along the chain: each is in the activity log.
CORRECTIONS = frozenset({EventType.REMOVE, EventType.DESTROY, EventType.INSPECT})
# Recalled parts may still move back up the chain and be inspected or destroyed, never sold or fitted.
BLOCKED_BY_RECALL = frozenset({EventType.SELL, EventType.INSTALL})
# Refused moves that are also clone signals: a used part offered as new, a code activated twice.
ALERTING_MOVES = {
    (EventType.SELL, PartState.INSTALLED): "resale_after_install",
    (EventType.SELL, PartState.REMOVED): "resale_after_removal",
    (EventType.INSTALL, PartState.INSTALLED): "activation_after_install",
    (EventType.INSTALL, PartState.REMOVED): "activation_after_install",
    (EventType.INSTALL, PartState.DESTROYED): "activation_of_destroyed",
    (EventType.SELL, PartState.DESTROYED): "resale_of_destroyed",
}


class AlertedConflict(Conflict):
    """A refused move that also raised an alert; the alert is a kept write, so it survives the rollback."""


def check_transition(
    session: Session,
    event_type: str,
    parts: list[Part],
    actor: User,
    organization: Organization,
    zone: str = DEFAULT_TIMEZONE,
) -> None:
    """Refuse (403, or 409 with the reason) the first part the event cannot apply to.

    The holder is checked first: an organization that has no part in a part's custody is told only that it does
    not hold it, whatever the part's state (an attempt that is also a clone signal still alerts the OEM)."""
    allowed, _target = TRANSITIONS[event_type]
    for index, part in enumerate(parts):
        name = part_field(index)
        in_state = part.state in allowed
        if not in_state:
            cause = ALERTING_MOVES.get((event_type, part.state))
            alert = (
                partial(
                    raise_alert,
                    cause=cause,
                    part=part,
                    organization_id=organization.id,
                    details={"by": organization.code},
                )
                if cause is not None
                else None
            )
            if not _concerns(session, part, actor, organization):
                _refuse_stranger(session, part, organization, name, alert)
            reason = f"{part.gtin}/{part.serial} is {part.state}; {event_type} is not possible from there"
            error_type = Conflict if alert is None else AlertedConflict
            error = error_type(reason, field=name, reason_code="invalid_transition", state=part.state)
            raise error if alert is None else error.keeping(session, alert)
        if not _may_act_on(session, event_type, part, actor, organization, zone):
            _refuse_stranger(session, part, organization, name, None)
        if part.recall_id is not None and event_type in BLOCKED_BY_RECALL:
            raise Conflict(
                "%(part_gtin)s/%(part_serial)s is under recall",
                field=name,
                reason_code="recalled",
                part_gtin=part.gtin,
                part_serial=part.serial,
            )


def _refuse_stranger(session: Session, part: Part, organization: Organization, name: str, alert) -> None:
    error = Forbidden(
        "%(organization_code)s does not hold %(part_gtin)s/%(part_serial)s",
        field=name,
        reason_code="not_holder",
        organization_code=organization.code,
        part_gtin=part.gtin,
        part_serial=part.serial,
    )
    raise error if alert is None else error.keeping(session, alert)


def _concerns(session: Session, part: Part, actor: User, organization: Organization) -> bool:
    """Tell whether the organization has a part in the part's custody, so that it may learn its state."""
    if is_oem(actor) or organization.id in (part.holder_id, part.destination_id, part.sold_by_id):
        return True
    if part.state == PartState.SOLD and part.holder_id is None:
        # A driver's part: the shop the driver brings it to sees it in their hands.
        return actor.has_role(*INSTALLER_ROLES)
    installer = select(Installation.id).where(
        Installation.part_id == part.id, Installation.organization_id == organization.id
    )
    return session.scalar(installer.limit(1)) is not None


def _may_act_on(
    session: Session, event_type: str, part: Part, actor: User, organization: Organization, zone: str
) -> bool:
    if event_type == EventType.RECEIVE:
        return part.destination_id == organization.id
    if event_type == EventType.INSTALL:
        # A part sold to a driver is fitted by whichever shop the driver chooses; the activation code proves it.
        bought_by_driver = part.state == PartState.SOLD and part.holder_id is None
        return actor.has_role(*INSTALLER_ROLES) and (part.holder_id == organization.id or bought_by_driver)
    if event_type == EventType.REMOVE:
        return is_oem(actor) or (
            actor.has_role(*INSTALLER_ROLES) and _services_vehicle(session, part, organization, zone)
        )
    if event_type in (EventType.DESTROY, EventType.INSPECT):
        on_vehicle = part.state == PartState.INSTALLED and actor.has_role(*INSTALLER_ROLES)
        return is_oem(actor) or part.holder_id == organization.id or on_vehicle
    return part.holder_id == organization.id


def _services_vehicle(session: Session, part: Part, organization: Organization, zone: str) -> bool:
    """Tell whether the organization may take the part off its vehicle: the vehicle is at its shop now (a
    checked-in booking or an accepted roadside job, answered by the registered presence check), or it installed
    the part and the part's warranty from that installation still runs (warranty work)."""
    if part.vehicle_id is not None and vehicle_is_at(session, organization.id, part.vehicle_id):
        return True
    installation = find_open_installation(session, part)
    if installation is None or installation.organization_id != organization.id:
        return False
    months = part.part_type.warranty_months
    return local_date(utcnow(), zone) <= warranty_end(installation.installed_at, months, zone)


def warranty_end(installed_at: datetime, months: int, zone: str | None = None) -> date:
    """Return the last local day of a warranty of `months` from an installation, as the scan page shows it."""
    return add_months(local_date(installed_at, zone), months)
