"""The 32 J1939 failure mode identifiers (FMI 0-31) in Milepost's own zh/en wording, for drivers.

The FMI meanings are short, fixed and widely republished; the wording here is ours (see docs/knowledge.md). They
are the last step of every J1939 lookup: an SPN nobody has written an entry for still says how it failed.
"""

from __future__ import annotations

from dataclasses import dataclass

RESERVED = range(22, 31)


@dataclass(frozen=True)
class FmiMeaning:
    """What one FMI says about how a reading or part failed, in zh and en."""

    fmi: int
    zh: str
    en: str
    reserved: bool = False

    def text(self, language: str) -> str:
        """Return the meaning in `language` (zh unless en)."""
        return self.en if language == "en" else self.zh


_WORDING = {
    0: ("读数正常但高得多，最严重", "reading is valid but far too high (most severe)"),
    1: ("读数正常但低得多，最严重", "reading is valid but far too low (most severe)"),
    2: ("读数时有时无、跳动或不对", "reading jumps about, comes and goes, or is wrong"),
    3: ("电压偏高，或线路对电源短路", "voltage too high, or the wire is shorted to power"),
    4: ("电压偏低，或线路对地短路", "voltage too low, or the wire is shorted to ground"),
    5: ("电流偏小，或线路断开", "current too low, or the circuit is open"),
    6: ("电流偏大，或线路搭铁", "current too high, or the circuit is grounded"),
    7: ("机械部分不动作或调整不当", "the mechanical part does not respond or is out of adjustment"),
    8: ("信号频率、脉宽或周期异常", "signal frequency, pulse width or period is abnormal"),
    9: ("数据更新太慢或中断", "data arrive too slowly or stop arriving"),
    10: ("数值变化过快", "the value changes abnormally fast"),
    11: ("原因不明", "cause not identified"),
    12: ("电子元件或设备损坏", "a faulty electronic device or component"),
    13: ("需要重新标定", "out of calibration"),
    14: ("请按厂家的专门说明处理", "follow the maker's special instructions"),
    15: ("读数偏高，轻微", "reading somewhat high (least severe)"),
    16: ("读数偏高，中等", "reading high (moderately severe)"),
    17: ("读数偏低，轻微", "reading somewhat low (least severe)"),
    18: ("读数偏低，中等", "reading low (moderately severe)"),
    19: ("从车载网络收到的数据有误", "data received over the vehicle network are wrong"),
    20: ("读数逐渐漂高", "reading has drifted high"),
    21: ("读数逐渐漂低", "reading has drifted low"),
    31: ("故障状态存在", "the condition is present"),
}

FMI_MEANINGS: dict[int, FmiMeaning] = {
    fmi: (
        FmiMeaning(fmi, "保留（标准未定义）", "reserved (not defined by the standard)", reserved=True)
        if fmi in RESERVED
        else FmiMeaning(fmi, *_WORDING[fmi])
    )
    for fmi in range(32)
}


def fmi_meaning(fmi: int | None) -> FmiMeaning | None:
    """Return the meaning of `fmi`, or None when there is none (no FMI, or out of range)."""
    return FMI_MEANINGS.get(fmi) if fmi is not None else None
