"""Traceability test data: part types, commissioned batches and parts moved along their custody chain."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from app.crm.models import Organization
from app.security import Role, User
from app.signing import KeyRing
from tests.conftest import PUBLIC_BASE_URL, TEST_KEYS
from tests.factories import make_organization, make_user
from traceability.codes import build_gtin, build_part_url
from traceability.commissioning import commission_batch
from traceability.models import Batch, Part, PartType

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
