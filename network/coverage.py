"""Coverage of the expressways by shops: per route and province, gaps, recommended new sites, capacity.

Every route is cut into 1 km stretches (the last one shorter); a stretch is covered when an eligible shop
lies within the radius of its midpoint. Stretches within COVERAGE_CORRIDOR_KM of a stretch of an earlier
route (in code order) are a shared corridor: they count once, under the earlier route, in the totals, the
province figures, the gaps and the recommendations. Per-route figures cover the route's whole length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import shapely
from shapely import STRtree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from network.models import CoverageRollup, Shop, ShopStatus
from network.routes import RouteNetwork
from network.spatial import PointTree, haversine_km, provinces_of, sinusoidal

CANDIDATE_SPACING_KM = 5


@dataclass
class Samples:
    """The 1 km stretches of all routes: owner route, km range, midpoint, length, shared flag, province."""

    route: np.ndarray
    km_from: np.ndarray
    km_to: np.ndarray
    lats: np.ndarray
    lons: np.ndarray
    weight: np.ndarray
    shared: np.ndarray
    provinces: np.ndarray
    codes: list[str]


def build_samples(routes: RouteNetwork, corridor_km: float, step_km: float = 1.0) -> Samples:
    """Cut every route into stretches and mark those within `corridor_km` of a stretch of an earlier route."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in ("route", "km_from", "km_to", "lats", "lons")}
    for number, route in enumerate(routes.routes):
        starts = np.arange(0.0, route.length_km, step_km)
        stops = np.minimum(starts + step_km, route.length_km)
        middles = (starts + stops) / 2
        columns["route"].append(np.full(len(middles), number, dtype=np.int64))
        columns["km_from"].append(starts)
        columns["km_to"].append(stops)
        columns["lats"].append(np.interp(middles, route.km, route.lats))
        columns["lons"].append(np.interp(middles, route.km, route.lons))
    joined = {name: np.concatenate(values) if values else np.zeros(0) for name, values in columns.items()}
    lats, lons, owner = joined["lats"], joined["lons"], joined["route"].astype(np.int64)
    shared = np.zeros(len(lats), dtype=bool)
    if len(lats):
        query, other, _distance = PointTree(lats, lons).pairs_within(lats, lons, corridor_km)
        shared[query[owner[other] < owner[query]]] = True
    return Samples(
        route=owner,
        km_from=joined["km_from"],
        km_to=joined["km_to"],
        lats=lats,
        lons=lons,
        weight=joined["km_to"] - joined["km_from"],
        shared=shared,
        provinces=np.array(provinces_of(lats, lons) if len(lats) else [], dtype=object),
        codes=[route.code for route in routes.routes],
    )


def eligible_shops(session: Session, certified_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return (lats, lons) of the active shops that count for coverage (certified only by default)."""
    statement = select(Shop.lat, Shop.lon).where(Shop.status == ShopStatus.ACTIVE)
    if certified_only:
        statement = statement.where(Shop.certification_tier != "none")
    rows = session.execute(statement).all()
    return np.array([row[0] for row in rows], dtype=float), np.array([row[1] for row in rows], dtype=float)


def covered_samples(samples: Samples, shop_lats: np.ndarray, shop_lons: np.ndarray, radius_km: float) -> np.ndarray:
    """Return which stretches have a shop within `radius_km` of their midpoint (STRtree candidates, exact test)."""
    covered = np.zeros(len(samples.lats), dtype=bool)
    if len(shop_lats) == 0 or len(samples.lats) == 0:
        return covered
    # First a cheap witness: the nearest shop in a flat projection; if it is within the radius on the
    # ground, the stretch is covered. Only the rest need the exact check against every shop in their box,
    # and those have few shops nearby, so the pairs stay few.
    flat = STRtree(shapely.points(*sinusoidal(shop_lats, shop_lons)))
    _query, witness = flat.query_nearest(shapely.points(*sinusoidal(samples.lats, samples.lons)), all_matches=False)
    covered = haversine_km(samples.lats, samples.lons, shop_lats[witness], shop_lons[witness]) <= radius_km
    rest = np.flatnonzero(~covered)
    hits, _shop, _distance = PointTree(shop_lats, shop_lons).pairs_within(
        samples.lats[rest], samples.lons[rest], radius_km
    )
    covered[rest[hits]] = True
    return covered


def covered_samples_brute_force(
    samples: Samples, shop_lats: np.ndarray, shop_lons: np.ndarray, radius_km: float
) -> np.ndarray:
    """Return the same as covered_samples by measuring every stretch against every shop (the baseline)."""
    covered = np.zeros(len(samples.lats), dtype=bool)
    if len(shop_lats) == 0:
        return covered
    for start in range(0, len(samples.lats), 512):
        chunk = slice(start, start + 512)
        distances = haversine_km(
            samples.lats[chunk, None], samples.lons[chunk, None], shop_lats[None, :], shop_lons[None, :]
        )
        covered[chunk] = (distances <= radius_km).any(axis=1)
    return covered


def _summary(total: float, covered: float) -> dict:
    return {
        "total_km": round(total, 1),
        "covered_km": round(covered, 1),
        "percent": round(100.0 * covered / total, 2) if total else 0.0,
    }


def coverage_report(samples: Samples, covered: np.ndarray, routes: RouteNetwork, radius_km: float) -> dict:
    """Return covered km and percent overall (corridors once), per route (whole length) and per province."""
    owned = ~samples.shared
    weight = samples.weight
    by_route = []
    for number, code in enumerate(samples.codes):
        mine = samples.route == number
        entry = {"code": code, "name_zh": routes.routes[number].name_zh, "name_en": routes.routes[number].name_en}
        entry.update(_summary(weight[mine].sum(), weight[mine & covered].sum()))
        entry["shared_km"] = round(float(weight[mine & samples.shared].sum()), 1)
        by_route.append(entry)
    by_province = []
    for province in sorted(set(samples.provinces[owned])):
        mine = owned & (samples.provinces == province)
        by_province.append({"province": province, **_summary(weight[mine].sum(), weight[mine & covered].sum())})
    return {
        "radius_km": radius_km,
        **_summary(weight[owned].sum(), weight[owned & covered].sum()),
        "routes": by_route,
        "provinces": by_province,
    }


def refresh_coverage_rollup(
    session: Session, samples: Samples, routes: RouteNetwork, radius_km: float, now: datetime
) -> CoverageRollup:
    """Recompute the share of expressway km within `radius_km` of an active certified shop and keep it."""
    return keep_coverage_rollup(session, measure_coverage(session, samples, routes, radius_km), radius_km, now)


def measure_coverage(session: Session, samples: Samples, routes: RouteNetwork, radius_km: float) -> dict:
    """Return the coverage report of the active certified shops within `radius_km` (reads only)."""
    lats, lons = eligible_shops(session, certified_only=True)
    return coverage_report(samples, covered_samples(samples, lats, lons, radius_km), routes, radius_km)


def keep_coverage_rollup(session: Session, report: dict, radius_km: float, now: datetime) -> CoverageRollup:
    """Keep a coverage report's figures as the dashboard's coverage for `radius_km`."""
    radius = Decimal(str(radius_km)).quantize(Decimal("0.01"))
    rollup = find_coverage_rollup(session, radius_km)
    if rollup is None:
        rollup = CoverageRollup(radius_km=radius)
        session.add(rollup)
    rollup.percent = Decimal(str(report["percent"])).quantize(Decimal("0.01"))
    rollup.covered_km = Decimal(str(report["covered_km"]))
    rollup.total_km = Decimal(str(report["total_km"]))
    rollup.computed_at = now
    session.flush()
    return rollup


def find_coverage_rollup(session: Session, radius_km: float) -> CoverageRollup | None:
    """Return the kept coverage figure for `radius_km`, if the worker has computed it."""
    radius = Decimal(str(radius_km)).quantize(Decimal("0.01"))
    return session.scalar(select(CoverageRollup).where(CoverageRollup.radius_km == radius))


def find_gaps(samples: Samples, covered: np.ndarray, routes: RouteNetwork) -> list[dict]:
    """Return the maximal uncovered stretches of each route (corridors under their first route), longest first."""
    gaps = []
    open_gap = (~covered) & (~samples.shared)
    for number, code in enumerate(samples.codes):
        indexes = np.flatnonzero(samples.route == number)
        flags = open_gap[indexes]
        if not flags.any():
            continue
        padded = np.concatenate([[False], flags, [False]])
        changes = np.flatnonzero(np.diff(padded.astype(np.int8)))
        route = routes.routes[number]
        for first, stop in zip(changes[::2], changes[1::2], strict=True):
            km_from = float(samples.km_from[indexes[first]])
            km_to = float(samples.km_to[indexes[stop - 1]])
            start_lat, start_lon = route.point_at(km_from)
            end_lat, end_lon = route.point_at(km_to)
            gaps.append(
                {
                    "route": code,
                    "from_km": round(km_from, 1),
                    "to_km": round(km_to, 1),
                    "length_km": round(km_to - km_from, 1),
                    "from": {"lat": round(start_lat, 5), "lon": round(start_lon, 5)},
                    "to": {"lat": round(end_lat, 5), "lon": round(end_lon, 5)},
                    "province": samples.provinces[indexes[first]],
                }
            )
    return sorted(gaps, key=lambda gap: (-gap["length_km"], gap["route"], gap["from_km"]))


def gaps_to_geojson(gaps: list[dict], routes: RouteNetwork) -> dict:
    """Return gaps as GeoJSON LineStrings along their route."""
    features = []
    for gap in gaps:
        route = routes.by_code[gap["route"]]
        inside = (route.km > gap["from_km"]) & (route.km < gap["to_km"])
        points = [route.point_at(gap["from_km"]), *zip(route.lats[inside], route.lons[inside], strict=True)]
        points.append(route.point_at(gap["to_km"]))
        features.append(
            {
                "type": "Feature",
                "properties": {key: gap[key] for key in ("route", "from_km", "to_km", "length_km", "province")},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[round(float(lon), 5), round(float(lat), 5)] for lat, lon in points],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def recommend_sites(
    samples: Samples, covered: np.ndarray, radius_km: float, count: int, routes: RouteNetwork
) -> list[dict]:
    """Choose up to `count` new sites on the routes, greedily, each adding the most newly covered km.

    Candidates are uncovered stretch midpoints every CANDIDATE_SPACING_KM along each route.
    """
    owned = ~samples.shared
    covered = covered.copy()
    uncovered = np.flatnonzero(owned & ~covered)
    total = float(samples.weight[owned].sum())
    covered_km = float(samples.weight[owned & covered].sum())
    if len(uncovered) == 0:
        return []
    candidates = uncovered[(np.floor(samples.km_from[uncovered]) % CANDIDATE_SPACING_KM) == 0]
    if len(candidates) == 0:
        candidates = uncovered
    tree = PointTree(samples.lats[uncovered], samples.lons[uncovered])
    candidate_of_pair, sample_of_pair, _distance = tree.pairs_within(
        samples.lats[candidates], samples.lons[candidates], radius_km
    )
    sample_of_pair = uncovered[sample_of_pair]
    chosen = []
    for _round in range(count):
        live = ~covered[sample_of_pair]
        gains = np.bincount(
            candidate_of_pair[live], weights=samples.weight[sample_of_pair[live]], minlength=len(candidates)
        )
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            break
        covered[sample_of_pair[(candidate_of_pair == best)]] = True
        covered_km += float(gains[best])
        site = candidates[best]
        route = routes.routes[samples.route[site]]
        middle = float((samples.km_from[site] + samples.km_to[site]) / 2)
        chosen.append(
            {
                "rank": len(chosen) + 1,
                "lat": round(float(samples.lats[site]), 5),
                "lon": round(float(samples.lons[site]), 5),
                "route": route.code,
                "km": round(middle, 1),
                "province": samples.provinces[site],
                "gain_km": round(float(gains[best]), 1),
                "cumulative_covered_km": round(covered_km, 1),
                "cumulative_percent": round(100.0 * covered_km / total, 2) if total else 0.0,
            }
        )
    return chosen


def capacity_by_province(session: Session) -> list[dict]:
    """Return registered trucks per active shop bay by province, most loaded first (no bays at all first)."""
    trucks = dict(
        session.execute(
            select(Vehicle.province, func.count()).where(Vehicle.province.is_not(None)).group_by(Vehicle.province)
        ).all()
    )
    bays = {
        province: (int(shop_count), int(bay_count or 0))
        for province, shop_count, bay_count in session.execute(
            select(Shop.province, func.count(), func.sum(Shop.bays))
            .where(Shop.status == ShopStatus.ACTIVE, Shop.province.is_not(None))
            .group_by(Shop.province)
        ).all()
    }
    rows = []
    for province in sorted(set(trucks) | set(bays)):
        shop_count, bay_count = bays.get(province, (0, 0))
        vehicles = int(trucks.get(province, 0))
        rows.append(
            {
                "province": province,
                "vehicles": vehicles,
                "shops": shop_count,
                "bays": bay_count,
                "trucks_per_bay": round(vehicles / bay_count, 1) if bay_count else None,
            }
        )
    return sorted(
        rows, key=lambda row: (row["trucks_per_bay"] is not None, -(row["trucks_per_bay"] or row["vehicles"]))
    )
