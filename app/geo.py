"""Coordinates: parsing and validation (via geopy), great-circle distance and bounding boxes."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from geopy.distance import EARTH_RADIUS
from geopy.point import Point

from app.errors import InvalidInput

EARTH_RADIUS_KM = float(EARTH_RADIUS)


@dataclass(frozen=True)
class LatLon:
    """A WGS84 position in decimal degrees."""

    lat: float
    lon: float


def parse_coordinate(value: object, field: str) -> float:
    """Parse one latitude or longitude (`field` is `lat` or `lon`) from a number or a string.

    Strings may be decimal ("39.9") or degrees-minutes-seconds ("39°54'15\"N").
    """
    limit = 90.0 if field.endswith("lat") else 180.0
    if isinstance(value, bool) or value is None:
        raise InvalidInput("%(field)s must be a number of degrees", field=field)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = _parse_dms(text, field)
    else:
        raise InvalidInput("%(field)s must be a number of degrees", field=field)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise InvalidInput(
            "%(field)s must be between -%(limit)s and %(limit)s degrees", field=field, limit=f"{limit:g}"
        )
    return number


_DMS = re.compile(
    r"""^\s*(?P<sign>[-+])?(?P<deg>\d+(?:\.\d+)?)\s*(?:°|º|d|\s)?\s*
    (?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|m)?\s*)?
    (?:(?P<sec>\d+(?:\.\d+)?)\s*(?:"|″|''|s)?\s*)?
    (?P<hemi>[NSEWnsew])?\s*$""",
    re.VERBOSE,
)


def _parse_dms(text: str, field: str) -> float:
    match = _DMS.match(text)
    hemisphere = (match.group("hemi") or "").upper() if match else ""
    valid_hemispheres = "NS" if field.endswith("lat") else "EW"
    if not match or (hemisphere and hemisphere not in valid_hemispheres):
        raise InvalidInput("%(field)s is not a coordinate: %(text)r", field=field, text=text)
    minutes, seconds = float(match.group("min") or 0), float(match.group("sec") or 0)
    if minutes >= 60 or seconds >= 60:
        raise InvalidInput("%(field)s has minutes or seconds of 60 or more: %(text)r", field=field, text=text)
    degrees = Point.parse_degrees(float(match.group("deg")), minutes, seconds)
    negative = match.group("sign") == "-" or hemisphere in ("S", "W")
    return -degrees if negative else degrees


def parse_position(lat: object, lon: object, prefix: str = "") -> LatLon:
    """Parse a latitude/longitude pair, naming `{prefix}lat` / `{prefix}lon` in errors."""
    return LatLon(parse_coordinate(lat, f"{prefix}lat"), parse_coordinate(lon, f"{prefix}lon"))


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance in kilometres (haversine on geopy's mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """Return (min_lat, min_lon, max_lat, max_lon) enclosing every point within `radius_km`."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    min_lat, max_lat = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    if min_lat <= -90.0 or max_lat >= 90.0:
        return min_lat, -180.0, max_lat, 180.0
    dlon = math.degrees(math.asin(min(1.0, math.sin(radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(lat)))))
    return min_lat, lon - dlon, max_lat, lon + dlon


def coarsen(value: float, places: int = 2) -> float:
    """Round a coordinate to `places` decimals (2 is about 1 km) for public records."""
    return round(value, places)
