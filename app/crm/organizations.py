"""Creating and finding organizations."""

from __future__ import annotations

import re

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.crm.models import Organization, OrganizationKind
from app.crm.regions import parse_province
from app.errors import Conflict, InvalidInput, NotFound
from app.geo import parse_position

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-_]{1,39}$")


def normalize_code(code: str, field: str = "code") -> str:
    """Return an organization code in upper case, or raise when it has other characters."""
    cleaned = (code or "").strip().upper()
    if not _CODE.match(cleaned):
        raise InvalidInput("a code has 2-40 letters, digits, '-' or '_'", field=field)
    return cleaned


def create_organization(
    session: Session,
    *,
    kind: str,
    code: str,
    name: str,
    province: str | None = None,
    city: str | None = None,
    lat: float | str | None = None,
    lon: float | str | None = None,
) -> Organization:
    """Create an organization with a unique code."""
    if kind not in OrganizationKind.__members__.values():
        raise InvalidInput(f"unknown kind %(kind)r; one of {', '.join(OrganizationKind)}", field="kind", kind=kind)
    code = normalize_code(code)
    if not name or not name.strip():
        raise InvalidInput("a name is required", field="name")
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon, or neither", field="lat" if lat is None else "lon")
    position = parse_position(lat, lon) if lat is not None else None
    if session.scalar(select(Organization.id).where(Organization.code == code)):
        raise Conflict("an organization with code %(organization)s exists", field="code", organization=code)
    organization = Organization(
        kind=kind,
        code=code,
        name=name.strip(),
        province=parse_province(province) if province else None,
        city=(city or "").strip() or None,
        lat=position.lat if position else None,
        lon=position.lon if position else None,
    )
    session.add(organization)
    session.flush()
    return organization


def find_organization(session: Session, code: str) -> Organization | None:
    """Return the organization with `code`, if any."""
    return session.scalar(select(Organization).where(Organization.code == code.strip().upper()))


def get_organization(session: Session, code: str, field: str = "org") -> Organization:
    """Return the organization with `code`, or raise 404 naming `field`."""
    organization = find_organization(session, code)
    if organization is None:
        raise NotFound("no organization with code %(organization)r", field=field, organization=code)
    return organization


def select_organizations(kind: str | None = None, province: str | None = None, text: str | None = None) -> Select:
    """Return the query listing organizations, optionally of one kind or province or whose name or code contains
    `text`, by code."""
    statement = select(Organization).order_by(Organization.code)
    if text and text.strip():
        needle = text.strip()
        statement = statement.where(
            Organization.name.icontains(needle, autoescape=True) | Organization.code.icontains(needle, autoescape=True)
        )
    if kind:
        if kind not in OrganizationKind.__members__.values():
            raise InvalidInput("unknown kind %(kind)r", field="kind", kind=kind)
        statement = statement.where(Organization.kind == kind)
    if province:
        statement = statement.where(Organization.province == parse_province(province))
    return statement
