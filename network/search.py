"""Finding shops: the k nearest to a point (exact great-circle), and those ahead on the driver's route.

The index lives in each worker process (a few MB for 100,000 shops). A VersionedCache rebuilds it when the
shops' version stamp in the database changes, so every worker answers from current data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.geo import EARTH_RADIUS_KM
from network.highways import RouteCity
from network.hours import is_open_at
from network.models import Service, Shop, ShopStatus
from network.routes import Location, RouteNetwork
from network.settings import NetworkSettings
from network.shops import with_route_code
from network.spatial import PointTree, haversine_km

HALF_CIRCUMFERENCE_KM = np.pi * EARTH_RADIUS_KM
GRID_DEGREES = 0.5
GRID_LAT_BINS, GRID_LON_BINS = int(180 / GRID_DEGREES), int(360 / GRID_DEGREES)
SERVICE_BITS = {service.value: 1 << number for number, service in enumerate(Service)}


@dataclass(frozen=True)
class Filters:
    """What a search keeps: a service offered, open at `open_at`, certified only, and a minimum rating."""

    service: str | None = None
    open_at: datetime | None = None
    certified: bool = False
    min_rating: float | None = None


NO_FILTERS = Filters()


@dataclass
class ShopIndex:
    """Active shops as arrays, with an STRtree over their positions."""

    ids: np.ndarray
    codes: list[str]
    lats: np.ndarray
    lons: np.ndarray
    services: np.ndarray
    certified: np.ndarray
    ratings: np.ndarray
    open_24h: np.ndarray
    hours: list[dict]
    tree: PointTree = field(init=False)
    on_route: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Each shop's API rendering, filled as searches find them (network.rendering.rendered_shops): kept with the
    # index, so it is as fresh as the index (a new one is built whenever any shop changes).
    rendered: dict[int, dict] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.tree = PointTree(self.lats, self.lons)
        # Shops per GRID_DEGREES cell, to start each search at a radius that likely holds k shops.
        self.grid, _lat_edges, _lon_edges = np.histogram2d(
            self.lats, self.lons, bins=[GRID_LAT_BINS, GRID_LON_BINS], range=[[-90, 90], [-180, 180]]
        )

    def first_radius(self, lat: float, lon: float, k: int) -> float:
        """Return a radius likely to hold k shops, from the density of the cells around the point."""
        row = min(int((lat + 90) / GRID_DEGREES), GRID_LAT_BINS - 1)
        column = min(int((lon + 180) / GRID_DEGREES), GRID_LON_BINS - 1)
        count = self.grid[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2].sum()
        cell_km = GRID_DEGREES * 111.2
        area = 9 * cell_km * cell_km * max(np.cos(np.radians(lat)), 0.05)
        if count < 1:
            return 3 * cell_km
        return float(min(max(np.sqrt(2.0 * k * area / (np.pi * count)), 1.0), 3 * cell_km))

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_records(cls, records: list[tuple]) -> ShopIndex:
        """Build from (id, code, lat, lon, services, certification tier, rating, open_24h, hours) tuples."""
        return cls(
            ids=np.array([record[0] for record in records], dtype=np.int64),
            codes=[record[1] for record in records],
            lats=np.array([record[2] for record in records], dtype=float),
            lons=np.array([record[3] for record in records], dtype=float),
            services=np.array(
                [sum(SERVICE_BITS.get(name, 0) for name in record[4] or []) for record in records], dtype=np.int64
            ),
            certified=np.array([(record[5] or "none") != "none" for record in records], dtype=bool),
            ratings=np.array([np.nan if record[6] is None else float(record[6]) for record in records]),
            open_24h=np.array([bool(record[7]) for record in records], dtype=bool),
            hours=[record[8] or {} for record in records],
        )

    def mask(self, filters: Filters, candidates: np.ndarray, settings: NetworkSettings) -> np.ndarray:
        """Return which of the candidate positions pass the filters."""
        keep = np.ones(len(candidates), dtype=bool)
        if filters == NO_FILTERS:
            return keep
        if filters.service:
            keep &= (self.services[candidates] & SERVICE_BITS[filters.service]) != 0
        if filters.certified:
            keep &= self.certified[candidates]
        if filters.min_rating is not None:
            with np.errstate(invalid="ignore"):
                keep &= self.ratings[candidates] >= filters.min_rating
        if filters.open_at is not None:
            for position in np.flatnonzero(keep):
                shop = candidates[position]
                if not is_open_at(self.hours[shop], self.open_24h[shop], filters.open_at, settings.zone):
                    keep[position] = False
        return keep


def load_shop_index(session: Session) -> ShopIndex:
    """Read the active shops into a new index."""
    rows = session.execute(
        select(
            Shop.id,
            Shop.code,
            Shop.lat,
            Shop.lon,
            Shop.services,
            Shop.certification_tier,
            Shop.rating,
            Shop.open_24h,
            Shop.opening_hours,
        )
        .where(Shop.status == ShopStatus.ACTIVE)
        .order_by(Shop.id)
    ).all()
    return ShopIndex.from_records([tuple(row) for row in rows])


def check_search(k: int, max_km: float | None, settings: NetworkSettings) -> None:
    """Reject a k or distance beyond the configured maximum, naming the parameter."""
    if not 1 <= k <= settings.max_k:
        raise InvalidInput("k must be between 1 and %(max_k)s", field="k", max_k=settings.max_k)
    if max_km is not None and not 0 < max_km <= settings.max_km:
        raise InvalidInput(
            "max_km must be more than 0 and at most %(max_km)s", field="max_km", max_km=f"{settings.max_km:g}"
        )


def _top(positions: np.ndarray, distances: np.ndarray, index: ShopIndex, k: int) -> list[tuple[int, float]]:
    # Ties in distance are broken by shop id, so the index and the brute force agree exactly.
    order = np.lexsort((index.ids[positions], distances))[:k]
    return [(int(positions[i]), float(distances[i])) for i in order]


def nearest(
    index: ShopIndex,
    lat: float,
    lon: float,
    k: int,
    filters: Filters,
    settings: NetworkSettings,
    max_km: float | None = None,
) -> list[tuple[int, float]]:
    """Return (index position, distance km) of the k nearest shops passing the filters, nearest first.

    The radius starts where the local density suggests k shops and doubles until k shops pass within it;
    since every shop within the radius has been seen, the k nearest among them are the k nearest overall.
    """
    limit = min(max_km if max_km is not None else HALF_CIRCUMFERENCE_KM, HALF_CIRCUMFERENCE_KM)
    radius = min(index.first_radius(lat, lon, k), limit)
    while True:
        positions, distances = index.tree.within(lat, lon, radius)
        keep = index.mask(filters, positions, settings)
        positions, distances = positions[keep], distances[keep]
        if len(positions) >= k or radius >= limit:
            return _top(positions, distances, index, k)
        if radius > 2000:
            # Past this radius the boxes cover most of the country; scanning everything is as cheap.
            return nearest_brute_force(index, lat, lon, k, filters, settings, max_km)
        radius = min(radius * 2, limit)


def nearest_brute_force(
    index: ShopIndex,
    lat: float,
    lon: float,
    k: int,
    filters: Filters,
    settings: NetworkSettings,
    max_km: float | None = None,
) -> list[tuple[int, float]]:
    """Return the same as `nearest`, by computing every distance (the baseline the index is checked against)."""
    positions = np.arange(len(index))
    distances = haversine_km(lat, lon, index.lats, index.lons)
    keep = index.mask(filters, positions, settings)
    if max_km is not None:
        keep &= distances <= max_km
    positions, distances = positions[keep], distances[keep]
    if len(distances) > k:
        # Linear-time selection of the k-th distance, keeping every tie with it, then the exact order.
        kth = np.partition(distances, k - 1)[k - 1]
        close = distances <= kth
        positions, distances = positions[close], distances[close]
    return _top(positions, distances, index, k)


@dataclass(frozen=True)
class Ahead:
    """Where the truck is on its route, and the shops ahead of it."""

    location: Location
    direction: str
    shops: list[dict]


def _angle_between(a: float, b: float) -> float:
    difference = abs(a - b) % 360.0
    return min(difference, 360.0 - difference)


def locate_truck(
    routes: RouteNetwork,
    lat: float,
    lon: float,
    heading: float | None,
    highway: str | None,
    direction: str | None,
    settings: NetworkSettings,
) -> tuple[Location, str]:
    """Snap the truck to its route and decide its direction (from the heading, or as given)."""
    if highway is not None:
        if highway not in routes.by_code:
            raise InvalidInput("unknown highway %(highway)r", field="highway", highway=highway)
        if direction not in ("increasing", "decreasing"):
            raise InvalidInput("direction is increasing or decreasing", field="direction")
        found = routes.snap(lat, lon, settings.snap_km, only=highway)
        if not found:
            raise InvalidInput(
                "the position is not within %(snap_km)s km of %(highway)s",
                field="lat",
                snap_km=f"{settings.snap_km:g}",
                highway=highway,
            )
        return found[0], direction
    if heading is None:
        raise InvalidInput("give heading, or highway and direction", field="heading")
    found = routes.snap(lat, lon, settings.snap_km)
    if not found:
        raise InvalidInput(
            "the position is not within %(snap_km)s km of a highway", field="lat", snap_km=f"{settings.snap_km:g}"
        )
    # Where routes share a corridor, prefer the one whose line runs along the heading.
    closest = found[0].offset_km
    tied = [location for location in found if location.offset_km <= closest + 0.5]
    location = min(
        tied, key=lambda item: min(_angle_between(heading, item.bearing), _angle_between(heading, item.bearing + 180))
    )
    return location, ("increasing" if _angle_between(heading, location.bearing) <= 90 else "decreasing")


def locate_truck_towards(
    routes: RouteNetwork, lat: float, lon: float, city: RouteCity, settings: NetworkSettings
) -> tuple[Location, str]:
    """Snap the truck to the city's route and turn "towards that city" into the direction of kilometres."""
    if city.route not in routes.by_code:
        raise InvalidInput("unknown highway %(highway)r", field="towards", highway=city.route)
    found = routes.snap(lat, lon, settings.snap_km, only=city.route)
    if not found:
        raise InvalidInput(
            "the position is not within %(snap_km)s km of %(highway)s",
            field="lat",
            snap_km=f"{settings.snap_km:g}",
            highway=city.route,
        )
    city_km = routes.by_code[city.route].locate(city.lat, city.lon).km
    if abs(city_km - found[0].km) < settings.snap_km:
        raise InvalidInput("you are at that city already: choose the next one on your way", field="towards")
    return found[0], ("increasing" if city_km > found[0].km else "decreasing")


def shops_on_route(
    index: ShopIndex, routes: RouteNetwork, code: str, snap_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (positions, km, offset km, side is right) of the shops within `snap_km` of route `code` (cached)."""
    if code not in index.on_route:
        route = routes.by_code[code]
        _vertex, positions, _distance = index.tree.pairs_within(route.lats, route.lons, snap_km + 1.0)
        positions = np.unique(positions)
        kms, offsets, right = [], [], []
        for position in positions:
            located = routes.snap(index.lats[position], index.lons[position], snap_km, only=code)
            kms.append(located[0].km if located else np.nan)
            offsets.append(located[0].offset_km if located else np.nan)
            right.append(bool(located) and located[0].side == "right")
        kms_array = np.array(kms, dtype=float)
        keep = ~np.isnan(kms_array)
        index.on_route[code] = (
            positions[keep],
            kms_array[keep],
            np.array(offsets, dtype=float)[keep],
            np.array(right, dtype=bool)[keep],
        )
    return index.on_route[code]


def shops_ahead(
    index: ShopIndex,
    routes: RouteNetwork,
    location: Location,
    direction: str,
    within_km: float,
    filters: Filters,
    settings: NetworkSettings,
) -> list[tuple[int, float, float]]:
    """Return (position, km ahead, offset km) of the shops ahead in the direction of travel, nearest first.

    Shops behind the truck are not ahead. Shops at a service area (within the service-area distance of the
    road) on the other carriageway serve the opposite direction and are left out; shops farther off the road
    are reached from an exit and serve both directions. Traffic keeps right: going towards increasing
    kilometres, your carriageway's service areas are on the right.
    """
    if not 0 < within_km <= settings.max_km:
        raise InvalidInput(
            "within_km must be more than 0 and at most %(max_km)s", field="within_km", max_km=f"{settings.max_km:g}"
        )
    positions, kms, offsets, right = shops_on_route(index, routes, location.route, settings.snap_km)
    sign = 1.0 if direction == "increasing" else -1.0
    ahead = (kms - location.km) * sign
    own_side = right if direction == "increasing" else ~right
    keep = (ahead >= 0) & (ahead <= within_km) & ((offsets > settings.service_area_km) | own_side)
    keep &= index.mask(filters, positions, settings)
    order = np.lexsort((index.ids[positions[keep]], ahead[keep]))
    chosen = np.flatnonzero(keep)[order]
    return [(int(positions[i]), float(ahead[i]), float(offsets[i])) for i in chosen]


def shops_by_id(session: Session, ids: list[int]) -> dict[int, Shop]:
    """Load the shops with these ids, and their route's code, in one query."""
    if not ids:
        return {}
    return {shop.id: shop for shop in session.scalars(with_route_code(select(Shop).where(Shop.id.in_(ids))))}
