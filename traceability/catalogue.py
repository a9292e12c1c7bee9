"""The part catalogue: part types with their GTINs, names, guide prices and warranties."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from traceability.codes import build_gtin, normalize_gtin
from traceability.models import PartType

CATEGORIES = (
    "filters",
    "brakes",
    "clutch",
    "fuel_injection",
    "turbocharging",
    "pumps",
    "electrical",
    "tyres",
    "engine",
    "transmission",
    "axle",
    "suspension",
    "lighting",
    "body",
)
MAX_WARRANTY_MONTHS = 120


def parse_money(value: object, field: str) -> Decimal:
    """Return a non-negative CNY amount with two decimals."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput("%(field)s must be an amount in CNY", field=field) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise InvalidInput("%(field)s must be between 0 and 9,999,999,999.99 CNY", field=field)
    return amount.quantize(Decimal("0.01"))


def issue_gtin(session: Session, company_prefix: str) -> str:
    """Return the next unused GTIN-14 under the OEM's GS1 company prefix."""
    issued = session.scalars(select(PartType.gtin).where(PartType.gtin.startswith("0" + company_prefix))).all()
    references = [int(gtin[1 + len(company_prefix) : 13]) for gtin in issued]
    return build_gtin(company_prefix, max(references, default=0) + 1)


def create_part_type(
    session: Session,
    *,
    part_number: str,
    name_zh: str,
    name_en: str,
    category: str,
    guide_price: object,
    warranty_months: int,
    company_prefix: str,
    gtin: str | None = None,
    weight_kg: object | None = None,
) -> PartType:
    """Add a part type; without a GTIN one is issued from the company prefix."""
    part_number = (part_number or "").strip().upper()
    if not part_number or len(part_number) > 40:
        raise InvalidInput("a part number has 1 to 40 characters", field="part_number")
    if category not in CATEGORIES:
        raise InvalidInput(f"unknown category; one of {', '.join(CATEGORIES)}", field="category")
    if not 0 <= warranty_months <= MAX_WARRANTY_MONTHS:
        raise InvalidInput(f"warranty is 0 to {MAX_WARRANTY_MONTHS} months", field="warranty_months")
    for field, name in (("name_zh", name_zh), ("name_en", name_en)):
        if not name or not name.strip():
            raise InvalidInput("a name is required", field=field)
    gtin = normalize_gtin(gtin) if gtin else issue_gtin(session, company_prefix)
    if session.scalar(select(PartType.id).where(PartType.part_number == part_number)):
        raise Conflict("part number %(part_number)s exists", field="part_number", part_number=part_number)
    if session.scalar(select(PartType.id).where(PartType.gtin == gtin)):
        raise Conflict("GTIN %(gtin)s belongs to another part type", field="gtin", gtin=gtin)
    part_type = PartType(
        part_number=part_number,
        gtin=gtin,
        name_zh=name_zh.strip(),
        name_en=name_en.strip(),
        category=category,
        guide_price=parse_money(guide_price, "guide_price"),
        warranty_months=warranty_months,
        weight_kg=None if weight_kg is None else Decimal(str(weight_kg)).quantize(Decimal("0.001")),
    )
    session.add(part_type)
    session.flush()
    return part_type


def find_part_type(session: Session, part_number: str) -> PartType | None:
    """Return the part type with `part_number` (any case), if any."""
    return session.scalar(select(PartType).where(PartType.part_number == (part_number or "").strip().upper()))


def get_part_type(session: Session, part_number: str, field: str = "part_number") -> PartType:
    """Return the part type with `part_number`, or raise 404 naming `field`."""
    part_type = find_part_type(session, part_number)
    if part_type is None:
        raise NotFound("no part type %(part_number)r", field=field, part_number=part_number)
    return part_type


def select_part_types(category: str | None = None, text: str | None = None) -> Select:
    """Return the query listing part types, by part number, optionally of one category or matching `text`."""
    statement = select(PartType).order_by(PartType.part_number)
    if category:
        statement = statement.where(PartType.category == category)
    if text:
        pattern = f"%{text.strip().lower()}%"
        statement = statement.where(
            func.lower(PartType.part_number).like(pattern)
            | func.lower(PartType.name_en).like(pattern)
            | PartType.name_zh.like(pattern)
        )
    return statement


def part_type_to_dict(part_type: PartType) -> dict:
    """Render a part type for the API."""
    return {
        "part_number": part_type.part_number,
        "gtin": part_type.gtin,
        "name_zh": part_type.name_zh,
        "name_en": part_type.name_en,
        "category": part_type.category,
        "guide_price": f"{part_type.guide_price:.2f}",
        "warranty_months": part_type.warranty_months,
        "weight_kg": None if part_type.weight_kg is None else f"{part_type.weight_kg:.3f}",
    }
