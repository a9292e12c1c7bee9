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
    # The capital's name as GeoNames spells it (coordinates come from GeoNames, not from here).
    capital: str


PROVINCES = (
    Province("Anhui", "安徽", "皖", "01", "Hefei"),
    Province("Zhejiang", "浙江", "浙", "02", "Hangzhou"),
    Province("Jiangxi", "江西", "赣", "03", "Nanchang"),
    Province("Jiangsu", "江苏", "苏", "04", "Nanjing"),
    Province("Jilin", "吉林", "吉", "05", "Changchun"),
    Province("Qinghai", "青海", "青", "06", "Xining"),
    Province("Fujian", "福建", "闽", "07", "Fuzhou"),
    Province("Heilongjiang", "黑龙江", "黑", "08", "Harbin"),
    Province("Henan", "河南", "豫", "09", "Zhengzhou"),
    Province("Hebei", "河北", "冀", "10", "Shijiazhuang"),
    Province("Hunan", "湖南", "湘", "11", "Changsha"),
    Province("Hubei", "湖北", "鄂", "12", "Wuhan"),
    Province("Xinjiang", "新疆", "新", "13", "Ürümqi"),
    Province("Tibet", "西藏", "藏", "14", "Lhasa"),
    Province("Gansu", "甘肃", "甘", "15", "Lanzhou"),
    Province("Guangxi", "广西", "桂", "16", "Nanning"),
    Province("Guizhou", "贵州", "贵", "18", "Guiyang"),
    Province("Liaoning", "辽宁", "辽", "19", "Shenyang"),
    Province("Inner Mongolia", "内蒙古", "蒙", "20", "Hohhot"),
    Province("Ningxia", "宁夏", "宁", "21", "Yinchuan"),
    Province("Beijing", "北京", "京", "22", "Beijing"),
    Province("Shanghai", "上海", "沪", "23", "Shanghai"),
    Province("Shanxi", "山西", "晋", "24", "Taiyuan"),
    Province("Shandong", "山东", "鲁", "25", "Jinan"),
    Province("Shaanxi", "陕西", "陕", "26", "Xi’an"),
    Province("Tianjin", "天津", "津", "28", "Tianjin"),
    Province("Yunnan", "云南", "云", "29", "Kunming"),
    Province("Guangdong", "广东", "粤", "30", "Guangzhou"),
    Province("Hainan", "海南", "琼", "31", "Haikou"),
    Province("Sichuan", "四川", "川", "32", "Chengdu"),
    Province("Chongqing", "重庆", "渝", "33", "Chongqing"),
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
        raise InvalidInput("unknown province %(text)r", field=field, text=text)
    return province.name
