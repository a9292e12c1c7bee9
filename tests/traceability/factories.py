"""Traceability test data: part types, commissioned batches and parts moved along their custody chain."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from app.crm.models import Organization
from app.security import Role, User
from app.signing import KeyRing
from tests.conftest import PUBLIC_BASE_URL, TEST_KEYS
from tests.factories import make_organization, make_user
from traceability.codes import activation_code_for, build_gtin, build_part_url
from traceability.commissioning import commission_batch
from traceability.custody import CustodyLimits, record_event
from traceability.custody_input import EventRequest
from traceability.models import Batch, CustodyEvent, Part, PartType

_sequence = itertools.count(1)


def keyring_for_tests() -> KeyRing:
    """Return the key ring the test app uses."""
    return KeyRing.from_spec(TEST_KEYS)


def make_part_type(session: Session, **overrides: object) -> PartType:
    number = next(_sequence)
    fields = {
        "part_number": f"TP-{number:05d}",
        "gtin": build_gtin("6909999", number),
        "name_zh": f"机油滤清器{number}",
        "name_en": f"Oil filter {number}",
        "category": "filters",
        "guide_price": Decimal("86.00"),
        "warranty_months": 12,
    }
    fields.update(overrides)
    part_type = PartType(**fields)
    session.add(part_type)
    session.flush()
    return part_type


def make_batch(
    session: Session,
    quantity: int = 3,
    part_type: PartType | None = None,
    factory: Organization | None = None,
    created_by: User | None = None,
    **overrides: object,
) -> Batch:
    """Commission a batch through the domain service."""
    fields = {
        "production_line": "L1",
        "production_date": date(2026, 3, 1),
        "qc_result": "passed",
        "qc_inspector": "李工",
    }
    fields.update(overrides)
    return commission_batch(
        session,
        keyring_for_tests(),
        part_type=part_type or make_part_type(session),
        factory=factory or make_organization(session, kind="factory", city="Jinan", lat=36.67, lon=117.0),
        quantity=quantity,
        max_quantity=100_000,
        created_by=created_by,
        **fields,
    )


def make_factory_staff(session: Session, factory: Organization | None = None) -> User:
    factory = factory or make_organization(session, kind="factory", city="Jinan", lat=36.67, lon=117.0)
    return make_user(session, Role.FACTORY_STAFF, factory)


def part_url(part: Part) -> str:
    return build_part_url(PUBLIC_BASE_URL, part.gtin, part.serial, part.tag)


def part_path(part: Part) -> str:
    return part_url(part).removeprefix(PUBLIC_BASE_URL)


LIMITS = CustodyLimits(
    max_parts=10_000, activation_max_failures=5, activation_client_max_failures=30, activation_window=timedelta(hours=1)
)


def record(session: Session, actor: User, event_type: str, parts: list[Part], **fields: object) -> CustodyEvent:
    """Record a custody event through the domain service."""
    references = [{"gtin": part.gtin, "serial": part.serial} for part in parts]
    request = EventRequest(type=event_type, parts=references, **fields)
    return record_event(session, keyring_for_tests(), actor, request, LIMITS, client="198.51.100.7")


def stock_parts(session: Session, parts: list[Part], organization: Organization) -> User:
    """Ship parts from their factory to `organization` and receive them there; return a staff user of it."""
    factory_staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, factory_staff, "ship", parts, to=organization.code)
    role = {"warehouse": Role.WAREHOUSE_STAFF, "shop": Role.SHOP_STAFF}.get(organization.kind, Role.DEALER_STAFF)
    staff = make_user(session, role, organization)
    record(session, staff, "receive", parts)
    return staff


def activation_code(part: Part) -> str:
    return activation_code_for(keyring_for_tests(), part.gtin, part.serial)


def install_part_on(session: Session, vin: str, shop_name: str = "郑州重汽服务站", **batch_overrides: object) -> Part:
    """Commission one part, stock it at a new shop organization and install it on the vehicle `vin`."""
    from sqlalchemy import select

    batch = make_batch(session, quantity=1, **batch_overrides)
    part = session.scalars(select(Part).where(Part.batch_id == batch.id)).one()
    staff = stock_parts(session, [part], make_organization(session, kind="shop", name=shop_name))
    record(session, staff, "install", [part], vin=vin, activation_code=activation_code(part))
    return part
