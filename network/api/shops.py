"""Highways, shops, nearest and shops-ahead search, and a shop's slots."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from app.db import utcnow
from app.errors import InvalidInput
from app.geo import LatLon, parse_position
from app.security import Role, is_oem, require_member
from app.web.context import db_session
from app.web.endpoints import PUBLIC, QuerySchema, Schema, api_words
from app.web.pagination import PageQuery, paginate
from network import booking
from network.api import api
from network.highways import highways_to_geojson, list_highways
from network.models import Service
from network.search import Filters
from network.shops import create_shop, get_shop, select_shops, shop_to_dict, update_shop
from network.web import current_settings, nearest_shops, route_network, shops_ahead


class FilterQuery(QuerySchema):
    service: str | None = Field(None, description=api_words("one of %(values)s", values=", ".join(Service)))
    open_now: bool = Field(False, description="only shops open at this moment")
    certified: bool = Field(False, description="only certified shops")
    min_rating: float | None = Field(None, ge=0, le=5, description="minimum rating, 0-5")

    def filters(self) -> Filters:
        if self.service is not None and self.service not in Service.__members__.values():
            raise InvalidInput(
                f"unknown service %(service)r; one of {', '.join(Service)}", field="service", service=self.service
            )
        return Filters(
            service=self.service,
            open_at=utcnow() if self.open_now else None,
            certified=self.certified,
            min_rating=self.min_rating,
        )


class ShopListQuery(PageQuery, FilterQuery):
    lat: str | None = Field(None, description="with lon: list the k nearest shops instead of a page")
    lon: str | None = None
    k: int = Field(10, description="how many nearest shops")
    max_km: float | None = Field(None, description="only shops within this distance")
    province: str | None = None
    status: str | None = Field(None, description="active, suspended or closed (listing only)")


class AheadQuery(FilterQuery):
    lat: str = Field(description="the truck's latitude")
    lon: str = Field(description="the truck's longitude")
    heading: float | None = Field(None, ge=0, le=360, description="degrees from north, as a phone reports it")
    highway: str | None = Field(None, description="route code instead of heading, e.g. G4")
    direction: str | None = Field(None, description="increasing or decreasing (with highway)")
    within_km: float = Field(100, description="how far ahead to look")


class ShopIn(Schema):
    code: str = Field(min_length=2, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    lat: float | str
    lon: float | str
    address: str = ""
    province: str | None = None
    city: str | None = None
    phone: str = ""
    services: list[str] = Field(
        default_factory=list, description=api_words("one or more of %(values)s", values=", ".join(Service))
    )
    bays: int = 2
    slot_minutes: int = 60
    open_24h: bool = False
    opening_hours: dict[str, Any] | str = Field(
        default_factory=dict, description='{"mon": [["08:00", "18:00"]], ...} or "mon-fri 08:00-18:00; sat ..."'
    )
    status: str = "active"


class ShopPatch(Schema):
    name: str | None = None
    address: str | None = None
    city: str | None = None
    phone: str | None = None
    services: list[str] | None = None
    bays: int | None = None
    slot_minutes: int | None = None
    open_24h: bool | None = None
    opening_hours: dict[str, Any] | str | None = None
    status: str | None = None
    lat: float | str | None = None
    lon: float | str | None = None
    province: str | None = None


class SlotQuery(QuerySchema):
    # A string parsed in the view: the shared error mapping drops a location part called "date", so a
    # pydantic date field here would be reported as field "body".
    day: str | None = Field(None, alias="date", description="local date (Asia/Shanghai), YYYY-MM-DD (date=)")


def parse_day(text: str | None) -> date:
    """Parse a YYYY-MM-DD query value, naming the `date` parameter when it is not one."""
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        raise InvalidInput("date is a day as YYYY-MM-DD", field="date") from None


def _position(lat: str | None, lon: str | None) -> LatLon:
    if lat is None or lon is None:
        raise InvalidInput("give both lat and lon", field="lat" if lat is None else "lon")
    return parse_position(lat, lon)


@api.endpoint("GET", "/highways", access=PUBLIC, summary="The expressway routes as GeoJSON")
def highways(actor):
    return highways_to_geojson(list_highways(db_session()))


@api.endpoint("GET", "/shops", access=PUBLIC, query=ShopListQuery, summary="List shops, or the k nearest to lat/lon")
def list_shops(actor, query: ShopListQuery):
    session = db_session()
    filters = query.filters()
    if query.lat is None and query.lon is None:
        statement = select_shops(query.province, query.service, query.status)
        return paginate(session, statement, query, shop_to_dict)
    position = _position(query.lat, query.lon)
    items = nearest_shops(session, position, query.k, filters, query.max_km)
    return {"lat": position.lat, "lon": position.lon, "k": query.k, "items": items}


@api.endpoint("GET", "/shops/ahead", access=PUBLIC, query=AheadQuery, summary="Shops ahead on the truck's route")
def ahead(actor, query: AheadQuery):
    position = parse_position(query.lat, query.lon)
    return shops_ahead(
        db_session(), position, query.heading, query.highway, query.direction, query.within_km, query.filters()
    )


@api.endpoint("GET", "/shops/<code>", access=PUBLIC, summary="Show a shop")
def show_shop(actor, code: str):
    return shop_to_dict(get_shop(db_session(), code, field="code"))


@api.endpoint("POST", "/shops", access=[Role.OEM_ADMIN], body=ShopIn, status=201, summary="Add a shop")
def add_shop(actor, body: ShopIn):
    session = db_session()
    shop = create_shop(session, body.model_dump(), route_network(session), current_settings().snap_km)
    return shop_to_dict(shop), 201


@api.endpoint(
    "PATCH", "/shops/<code>", access=[Role.OEM_ADMIN, Role.SHOP_STAFF], body=ShopPatch, summary="Change a shop"
)
def change_shop(actor, code: str, body: ShopPatch):
    session = db_session()
    shop = get_shop(session, code, field="code")
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    changes = body.model_dump(exclude_unset=True)
    shop = update_shop(session, shop, changes, route_network(session), current_settings().snap_km, is_oem(actor), actor)
    return shop_to_dict(shop)


@api.endpoint("GET", "/shops/<code>/slots", access=PUBLIC, query=SlotQuery, summary="A day's slots with bays left")
def shop_slots(actor, code: str, query: SlotQuery):
    session = db_session()
    shop = get_shop(session, code, field="code")
    day = parse_day(query.day)
    slots = booking.list_slots(session, shop, day, current_settings())
    return {"shop": shop.code, "date": day.isoformat(), "bays": shop.bays, "slots": slots}
