"""China's provincial-level divisions: names, licence-plate characters and GeoNames admin1 codes."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidInput


@dataclass(frozen=True)
class Province:
    """One provincial-level division (province, autonomous region or municipality)."""

    name: str
    name_zh: str
    plate_character: str
    geonames_admin1: str


PROVINCES = (
    Province("Anhui", "安徽", "皖", "01"),
    Province("Zhejiang", "浙江", "浙", "02"),
    Province("Jiangxi", "江西", "赣", "03"),
    Province("Jiangsu", "江苏", "苏", "04"),
    Province("Jilin", "吉林", "吉", "05"),
    Province("Qinghai", "青海", "青", "06"),
    Province("Fujian", "福建", "闽", "07"),
    Province("Heilongjiang", "黑龙江", "黑", "08"),
    Province("Henan", "河南", "豫", "09"),
    Province("Hebei", "河北", "冀", "10"),
    Province("Hunan", "湖南", "湘", "11"),
    Province("Hubei", "湖北", "鄂", "12"),
    Province("Xinjiang", "新疆", "新", "13"),
    Province("Tibet", "西藏", "藏", "14"),
    Province("Gansu", "甘肃", "甘", "15"),
    Province("Guangxi", "广西", "桂", "16"),
    Province("Guizhou", "贵州", "贵", "18"),
    Province("Liaoning", "辽宁", "辽", "19"),
    Province("Inner Mongolia", "内蒙古", "蒙", "20"),
    Province("Ningxia", "宁夏", "宁", "21"),
    Province("Beijing", "北京", "京", "22"),
    Province("Shanghai", "上海", "沪", "23"),
    Province("Shanxi", "山西", "晋", "24"),
    Province("Shandong", "山东", "鲁", "25"),
    Province("Shaanxi", "陕西", "陕", "26"),
    Province("Tianjin", "天津", "津", "28"),
    Province("Yunnan", "云南", "云", "29"),
    Province("Guangdong", "广东", "粤", "30"),
    Province("Hainan", "海南", "琼", "31"),
    Province("Sichuan", "四川", "川", "32"),
    Province("Chongqing", "重庆", "渝", "33"),
)

_BY_KEY = {
    key.lower(): province
    for province in PROVINCES
    for key in (province.name, province.name_zh, province.plate_character)
}
BY_PLATE_CHARACTER = {province.plate_character: province for province in PROVINCES}
BY_GEONAMES_ADMIN1 = {province.geonames_admin1: province for province in PROVINCES}


def find_province(text: str | None) -> Province | None:
    """Return the province named by its English or Chinese name or plate character, if any."""
    if not text:
        return None
    cleaned = text.strip().lower().removesuffix("省").removesuffix("市").removesuffix(" province")
    return _BY_KEY.get(cleaned)


def parse_province(text: str | None, field: str = "province") -> str:
    """Return the canonical (English) name of a province, or raise naming `field`."""
    province = find_province(text)
    if province is None:
        raise InvalidInput(f"unknown province {text!r}", field=field)
    return province.name
