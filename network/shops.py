"""Shops: creation and changes (validated), snapping to routes, bulk import, and rendering."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, select, update
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.crm.activity import record_activity
from app.crm.models import Organization, OrganizationKind
from app.crm.organizations import create_organization, find_organization, normalize_code
from app.crm.regions import parse_province
from app.errors import Conflict, Forbidden, InvalidInput, MilepostError, NotFound
from app.geo import parse_position
from app.security import User
from network.hours import hours_to_text, parse_opening_hours
from network.models import Highway, Service, Shop, ShopStatus
from network.routes import RouteNetwork
from network.spatial import provinces_of
from network.versions import SHOPS, bump_version

MAX_BAYS = 100
SLOT_MINUTES = (15, 20, 30, 45, 60, 90, 120, 180, 240)
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,28}$")
EDITABLE = ("name", "address", "city", "phone", "services", "bays", "slot_minutes", "open_24h", "opening_hours")
OEM_ONLY = ("status", "lat", "lon", "province")


def parse_services(value: object, field: str = "services") -> list[str]:
    """Return a sorted list of known services from a list or a comma/semicolon separated string."""
    items = re.split(r"[,;|\s]+", value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise InvalidInput("services is a list of service names", field=field)
    services = set()
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in Service.__members__.values():
            raise InvalidInput(f"unknown service %(name)r; one of {', '.join(Service)}", field=field, name=name)
        services.add(name)
    return sorted(services)


def _parse_int(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput("%(field)s must be a whole number", field=field)
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput("%(field)s must be a whole number", field=field) from None
    if isinstance(value, float) and value != number:
        raise InvalidInput("%(field)s must be a whole number", field=field)
    if not low <= number <= high:
        raise InvalidInput("%(field)s must be between %(low)s and %(high)s", field=field, low=low, high=high)
    return number


def _parse_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "y"}:
        return True
    if text in {"0", "false", "no", "n", ""}:
        return False
    raise InvalidInput("%(field)s must be true or false", field=field)


def clean_shop_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalize shop fields given by a form, an API body or an import row."""
    cleaned: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("name",):
            text = str(value or "").strip()
            if not text or len(text) > 200:
                raise InvalidInput("a name of 1-200 characters is required", field=name)
            cleaned[name] = text
        elif name in ("address", "city"):
            text = str(value or "").strip()
            if len(text) > (300 if name == "address" else 100):
                raise InvalidInput("%(field)s is too long", field=name)
            cleaned[name] = text or ("" if name == "address" else None)
        elif name == "phone":
            text = str(value or "").strip()
            if text and not _PHONE.match(text):
                raise InvalidInput("phone has digits, spaces, '-' and an optional leading '+'", field=name)
            cleaned[name] = text
        elif name == "services":
            cleaned[name] = parse_services(value)
        elif name == "bays":
            cleaned[name] = _parse_int(value, name, 1, MAX_BAYS)
        elif name == "slot_minutes":
            minutes = _parse_int(value, name, 5, 24 * 60)
            if minutes not in SLOT_MINUTES:
                raise InvalidInput(f"slot_minutes is one of {', '.join(map(str, SLOT_MINUTES))}", field=name)
            cleaned[name] = minutes
        elif name == "open_24h":
            cleaned[name] = _parse_bool(value, name)
        elif name == "opening_hours":
            cleaned[name] = parse_opening_hours(value if value not in (None, "") else {}, name)
        elif name == "status":
            if value not in ShopStatus.__members__.values():
                raise InvalidInput(f"unknown status %(value)r; one of {', '.join(ShopStatus)}", field=name, value=value)
            cleaned[name] = str(value)
        elif name == "province":
            cleaned[name] = parse_province(value) if value else None
        elif name in ("lat", "lon"):
            cleaned[name] = value
        else:
            raise InvalidInput("unknown field", field=name)
    if "lat" in cleaned or "lon" in cleaned:
        position = parse_position(cleaned.get("lat"), cleaned.get("lon"))
        cleaned["lat"], cleaned["lon"] = position.lat, position.lon
    return cleaned


def snap_shop(shop: Shop, routes: RouteNetwork, highways: dict[str, Highway], snap_km: float) -> None:
    """Give the shop its route, kilometre marker, side and distance off the road (or clear them)."""
    found = routes.snap(shop.lat, shop.lon, snap_km)
    if not found:
        shop.highway, shop.km_marker, shop.side, shop.offset_km = None, None, None, None
        return
    location = found[0]
    shop.highway = highways[location.route]
    shop.km_marker = round(location.km, 3)
    shop.side = location.side
    shop.offset_km = round(location.offset_km, 3)


def highways_by_code(session: Session) -> dict[str, Highway]:
    """Return the highway rows keyed by code (to attach snapped shops to)."""
    return {highway.code: highway for highway in session.scalars(select(Highway))}


def create_shop(
    session: Session, fields: dict[str, Any], routes: RouteNetwork, snap_km: float, highways: dict | None = None
) -> Shop:
    """Create a shop and, unless an organization of kind shop with its code exists, its organization."""
    fields = dict(fields)
    code = normalize_code(str(fields.pop("code", "") or ""))
    for required in ("name", "lat", "lon"):
        if fields.get(required) in (None, ""):
            raise InvalidInput("%(field)s is required", field=required)
    cleaned = clean_shop_fields(fields)
    cleaned.setdefault("services", [])
    cleaned.setdefault("opening_hours", {})
    if not cleaned.get("open_24h") and not any(cleaned["opening_hours"].values()):
        raise InvalidInput("give opening hours or open_24h", field="opening_hours")
    if cleaned.get("province") is None:
        cleaned["province"] = provinces_of(cleaned["lat"], cleaned["lon"])[0]
    organization = find_organization(session, code)
    if organization is None:
        organization = create_organization(
            session,
            kind=OrganizationKind.SHOP,
            code=code,
            name=cleaned["name"],
            province=cleaned["province"],
            city=cleaned.get("city"),
            lat=cleaned["lat"],
            lon=cleaned["lon"],
        )
    elif organization.kind != OrganizationKind.SHOP:
        raise Conflict(
            "organization %(shop)s is a %(organization_kind)s, not a shop",
            field="code",
            shop=code,
            organization_kind=organization.kind,
        )
    elif session.scalar(select(Shop.id).where(Shop.organization_id == organization.id)):
        raise Conflict("shop %(shop)s exists", field="code", shop=code)
    shop = Shop(organization=organization, code=code, **cleaned)
    snap_shop(shop, routes, highways if highways is not None else highways_by_code(session), snap_km)
    session.add(shop)
    session.flush()
    bump_version(session, SHOPS)
    return shop


def update_shop(
    session: Session,
    shop: Shop,
    changes: dict[str, Any],
    routes: RouteNetwork,
    snap_km: float,
    is_oem: bool,
    actor: User | None = None,
) -> Shop:
    """Change a shop's fields; only the OEM changes status and location; moving re-snaps it to the routes."""
    for name in changes:
        if name in OEM_ONLY and not is_oem:
            raise Forbidden("only the OEM may change %(field)s", field=name)
        if name not in EDITABLE + OEM_ONLY:
            raise InvalidInput("this field cannot be changed here", field=name)
    if ("lat" in changes) != ("lon" in changes):
        raise InvalidInput("change lat and lon together", field="lat" if "lat" not in changes else "lon")
    cleaned = clean_shop_fields(changes)
    open_24h = cleaned.get("open_24h", shop.open_24h)
    hours = cleaned.get("opening_hours", shop.opening_hours)
    if not open_24h and not any(hours.values()):
        raise InvalidInput("give opening hours or open_24h", field="opening_hours")
    for name, value in cleaned.items():
        setattr(shop, name, value)
    if "name" in cleaned:
        shop.organization.name = cleaned["name"]
    if "lat" in cleaned:
        shop.organization.lat, shop.organization.lon = shop.lat, shop.lon
        snap_shop(shop, routes, highways_by_code(session), snap_km)
    session.flush()
    bump_version(session, SHOPS)
    record_activity(
        session,
        actor,
        "network.shop_updated",
        "shop",
        shop.code,
        organization_id=shop.organization_id,
        fields=sorted(cleaned),
    )
    return shop


def publish_standing(session: Session, shop: Shop, rating: Decimal | None, count: int, tier: str) -> bool:
    """Write a shop's public standing (shrunk rating, its review count, certification tier) where search,
    coverage and the scan pages read it, and tell every worker's index when it changed; return whether it did.

    The higher layer that judges standing (reviews) calls this rather than setting the attributes, so the
    index stamp cannot be forgotten: a suspended shop leaves `certified=true` searches in every worker at once.
    """
    before = (shop.rating, shop.rating_count, shop.certification_tier)
    shop.rating, shop.rating_count, shop.certification_tier = rating, count, tier
    # The organization row carries the same standing for the CRM's pages and documents.
    organization = shop.organization
    organization.rating, organization.rating_count, organization.certification_tier = rating, count, tier
    if before == (rating, count, tier):
        return False
    session.flush()
    bump_version(session, SHOPS)
    return True


def publish_standings(session: Session, standings: Iterable[tuple[Shop, Decimal | None, int, str]]) -> int:
    """Write many shops' public standing (as `publish_standing`, for a network-wide evaluation) with one UPDATE
    stream per table and one index stamp; return how many shops changed.

    The rows are updated by primary key without the unit of work (its bookkeeping per object costs more than
    the statements at 10,000 shops); the loaded objects are given the new values as their database state.
    """
    shop_rows, organization_rows, touched = [], [], []
    for shop, rating, count, tier in standings:
        values = {"rating": rating, "rating_count": count, "certification_tier": tier}
        organization = shop.organization
        if (shop.rating, shop.rating_count, shop.certification_tier) != (rating, count, tier):
            shop_rows.append({"id": shop.id, **values})
            touched.append((shop, values))
        if (organization.rating, organization.rating_count, organization.certification_tier) != (rating, count, tier):
            organization_rows.append({"id": organization.id, **values})
            touched.append((organization, values))
    session.flush()  # anything pending on these rows goes first
    if shop_rows:
        session.execute(update(Shop), shop_rows)
    if organization_rows:
        session.execute(update(Organization), organization_rows)
    for row, values in touched:
        for name, value in values.items():
            set_committed_value(row, name, value)
    if shop_rows:
        bump_version(session, SHOPS)
    return len(shop_rows)


def resnap_shops(session: Session, routes: RouteNetwork, snap_km: float) -> int:
    """Snap every shop again (after a new highway data set); return how many are on a route."""
    highways = highways_by_code(session)
    on_route = 0
    for shop in session.scalars(select(Shop)):
        snap_shop(shop, routes, highways, snap_km)
        on_route += shop.highway is not None
    session.flush()
    bump_version(session, SHOPS)
    return on_route


def find_shop(session: Session, code: str) -> Shop | None:
    """Return the shop with `code`, if any."""
    return session.scalar(select(Shop).where(Shop.code == shop_code_of(code)))


def shop_code_of(text: str | None) -> str:
    """Return a shop code as typed or scanned in the form shops are stored under (upper case, no spaces around)."""
    return (text or "").strip().upper()


def get_shop(session: Session, code: str, field: str = "shop") -> Shop:
    """Return the shop with `code`, or raise 404 naming `field`."""
    shop = find_shop(session, code)
    if shop is None:
        raise NotFound("no shop with code %(shop)r", field=field, shop=code)
    return shop


def find_shop_of_organization(session: Session, organization_id: int | None) -> Shop | None:
    """Return the shop a staff member works for, if any."""
    if organization_id is None:
        return None
    return session.scalar(select(Shop).where(Shop.organization_id == organization_id))


def with_route_code(statement: Select) -> Select:
    """Load each listed shop's route code (shop_to_dict names it) in the same query: loaded per shop, it read a
    route's whole geometry once per route among the shops."""
    return statement.options(joinedload(Shop.highway).load_only(Highway.code))


def select_shops(province: str | None = None, service: str | None = None, status: str | None = None) -> Select:
    """Return the query listing shops by code, optionally by province and status (service is filtered after)."""
    statement = with_route_code(select(Shop).order_by(Shop.code))
    if province:
        statement = statement.where(Shop.province == parse_province(province))
    if status:
        if status not in ShopStatus.__members__.values():
            raise InvalidInput("unknown status %(status)r", field="status", status=status)
        statement = statement.where(Shop.status == status)
    if service:
        parse_services([service], field="service")
        # JSON containment differs by database; a LIKE on the serialized list is portable and exact here,
        # because service names are whole quoted words.
        statement = statement.where(Shop.services.cast(String).like(f'%"{service}"%'))
    return statement


def is_certified(shop: Shop) -> bool:
    """Tell whether reviews has certified the shop (any tier but none)."""
    return (shop.certification_tier or "none") != "none"


def shop_to_dict(shop: Shop, highway_codes: dict[int, str] | None = None) -> dict:
    """Render a shop for the API."""
    highway = (
        (highway_codes or {}).get(shop.highway_id) if highway_codes else (shop.highway.code if shop.highway else None)
    )
    return {
        "code": shop.code,
        "name": shop.name,
        "lat": shop.lat,
        "lon": shop.lon,
        "address": shop.address,
        "province": shop.province,
        "city": shop.city,
        "phone": shop.phone,
        "services": list(shop.services),
        "bays": shop.bays,
        "slot_minutes": shop.slot_minutes,
        "open_24h": shop.open_24h,
        "opening_hours": shop.opening_hours,
        "hours_text": hours_to_text(shop.opening_hours, shop.open_24h),
        "status": shop.status,
        "rating": float(shop.rating) if shop.rating is not None else None,
        "rating_count": shop.rating_count,
        "certification_tier": shop.certification_tier,
        "certified": is_certified(shop),
        "highway": highway,
        "km_marker": shop.km_marker,
        "side": shop.side,
        "offset_km": shop.offset_km,
    }


IMPORT_FIELDS = ("code", "name", "lat", "lon", "address", "province", "city", "phone", "services", "bays")
IMPORT_FIELDS += ("slot_minutes", "open_24h", "opening_hours", "status")


def read_shop_rows(text: str, filename: str) -> list[dict[str, Any]]:
    """Read shop rows from CSV (header row, hours in compact text) or a GeoJSON FeatureCollection of points."""
    if filename.lower().endswith((".geojson", ".json")):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise InvalidInput("not valid JSON: %(error)s", field="file", error=str(error)) from None
        if not isinstance(document, dict) or not isinstance(document.get("features"), list):
            raise InvalidInput("expected a GeoJSON FeatureCollection", field="file")
        rows = []
        for feature in document["features"]:
            properties = dict((feature or {}).get("properties") or {})
            geometry = (feature or {}).get("geometry") or {}
            coordinates = geometry.get("coordinates") if geometry.get("type") == "Point" else None
            if isinstance(coordinates, list) and len(coordinates) >= 2:
                properties["lon"], properties["lat"] = coordinates[0], coordinates[1]
            rows.append(properties)
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "code" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header row with at least code, name, lat, lon", field="file")
    return [dict(row) for row in reader]


def import_shops(session: Session, rows: list[dict[str, Any]], routes: RouteNetwork, snap_km: float) -> list[Shop]:
    """Create every shop in `rows`, or none: all row errors are reported together (row numbers from 1)."""
    errors: list[dict] = []
    created: list[Shop] = []
    highways = highways_by_code(session)
    seen: set[str] = set()
    # One savepoint around the import: a row error anywhere undoes every row (the `with` rolls it back).
    with session.begin_nested():
        for number, row in enumerate(rows, start=1):
            fields = {name: row.get(name) for name in IMPORT_FIELDS if row.get(name) not in (None, "")}
            unknown = sorted(set(row) - set(IMPORT_FIELDS))
            try:
                if unknown:
                    raise InvalidInput("unknown column", field=unknown[0])
                code = normalize_code(str(fields.get("code", "")))
                if code in seen:
                    raise InvalidInput("code %(shop)s appears twice in the file", field="code", shop=code)
                seen.add(code)
                with session.begin_nested():
                    created.append(create_shop(session, fields, routes, snap_km, highways))
            except MilepostError as error:
                errors.append({"row": number, "field": error.field, "message": error.message})
        if errors:
            raise InvalidInput(
                "%(count)s of %(count2)s rows have errors; nothing was imported",
                field="file",
                errors=errors,
                count=len(errors),
                count2=len(rows),
            )
    return created
