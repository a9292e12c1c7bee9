"""Fault codes as drivers, dashboards and telematics write them: J1939 SPN/FMI, raw DM1 bytes, OBD-II, blink codes.

Pure functions, no database: `parse_code(text)` turns one typed code into a `FaultCode`, `parse_dm1(data)` decodes
the lamp byte and 4-byte DTCs of a DM1 (or DM2) message. Values out of range are an InvalidInput naming the field
(`spn`, `fmi`, `occurrence`, `code`, `dm1`), which the API answers with a 400.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from app.errors import InvalidInput

J1939 = "j1939"
OBD2 = "obd2"
BLINK = "blink"
SCHEMES = (J1939, OBD2, BLINK)

MAX_SPN = 524_287  # 19 bits
MAX_FMI = 31  # 5 bits
MAX_OCCURRENCE = 126  # 7 bits; 127 means "not available"
MAX_SOURCE_ADDRESS = 253  # 254 is the null address, 255 global
MAX_TEXT = 200
MAX_DM1_BYTES = 1785  # the most a J1939 transport-protocol message carries

LAMPS = ("protect", "amber", "red", "mil")
LAMP_STATES = {0: "off", 1: "on", 2: "error", 3: "not_available"}
FLASH_STATES = {0: "slow", 1: "fast", 2: "reserved", 3: "none"}


@dataclass(frozen=True)
class FaultCode:
    """One diagnostic trouble code: scheme, code (the SPN as digits for J1939), FMI and what came with it."""

    scheme: str
    code: str
    fmi: int | None = None
    occurrence: int | None = None
    source_address: int | None = None
    # J1939 DTCs with the conversion-method bit set come from pre-2000s ECUs whose SPN byte order differs;
    # the SPN is read as the current method gives it and flagged, as can-utils and the J1939-73 note advise.
    old_conversion: bool = False

    @property
    def spn(self) -> int | None:
        """Return the SPN as a number for J1939 codes."""
        return int(self.code) if self.scheme == J1939 else None

    @property
    def label(self) -> str:
        """Return the code as people write it: `SPN 100 FMI 1`, `P20EE`, `闪码 2-2-1`."""
        if self.scheme == J1939:
            return f"SPN {self.code}" + (f" FMI {self.fmi}" if self.fmi is not None else "")
        if self.scheme == BLINK:
            return f"闪码 {self.code}"
        return self.code

    @property
    def short(self) -> str:
        """Return the compact spelling used in URLs and links: `100/1`, `P20EE`, `blink:2-2-1`."""
        if self.scheme == J1939:
            return self.code + (f"/{self.fmi}" if self.fmi is not None else "")
        if self.scheme == BLINK:
            return f"blink:{self.code}"
        return self.code

    def to_dict(self) -> dict:
        """Return the parsed code as JSON."""
        return {
            "scheme": self.scheme,
            "code": self.code,
            "spn": self.spn,
            "fmi": self.fmi,
            "occurrence": self.occurrence,
            "source_address": self.source_address,
            "old_conversion": self.old_conversion,
            "label": self.label,
            "short": self.short,
        }


@dataclass(frozen=True)
class Dm1:
    """A decoded DM1/DM2 message: the lamp states, their flash states and the DTCs in order."""

    lamps: dict[str, str]
    flash: dict[str, str]
    codes: list[FaultCode] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the message as JSON."""
        return {"lamps": self.lamps, "flash": self.flash, "codes": [code.to_dict() for code in self.codes]}


_NUMBER = r"([0-9]+)"
# `SPN 3251 FMI 0`, `spn3251fmi0`, `SPN:3251, FMI:0`, `SPN 100 FMI 1 OC 5`, `SPN100 FMI1 次数 5`.
_SPN_FMI = re.compile(
    r"^spn[\s:：=#]*" + _NUMBER + r"(?:[\s,，;/:：-]*fmi[\s:：=#]*" + _NUMBER + r")?"
    r"(?:[\s,，;/:：(（-]*(?:oc|cnt|count|次数)[\s:：=#]*" + _NUMBER + r"[)）]?)?$",
    re.ASCII | re.IGNORECASE,
)
# `3251/0`, `3251-0`, `3251 0`, `3251.0`, `3251/0/5` or `3251-0 x5` with a count, or a bare SPN `3251`.
_PAIR = re.compile(
    r"^" + _NUMBER + r"(?:\s*[/\-. ]\s*" + _NUMBER + r")?(?:\s*(?:/|\bx|\boc\b|×)\s*" + _NUMBER + r"\s*次?)?$",
    re.ASCII | re.IGNORECASE,
)
_OBD2 = re.compile(r"^([PCBU])([0-9A-F]{4})$", re.ASCII | re.IGNORECASE)
_BLINK_PREFIX = re.compile(r"^(?:闪码|闪光码|blink(?:\s*code)?)[\s:：]*", re.IGNORECASE)
_BLINK_DIGITS = re.compile(r"^([1-9])\s*[-–—.\s]?\s*([1-9])\s*[-–—.\s]?\s*([1-9])$")
_BLINK_DASHED = re.compile(r"^([1-9])\s*-\s*([1-9])\s*-\s*([1-9])$")
_PREFIXES = re.compile(r"^(?:故障码|故障代码|dtc|code)[\s:：]*", re.IGNORECASE)


def _clean(text: str) -> str:
    if not isinstance(text, str):
        raise InvalidInput("give the fault code as text", field="code")
    if "\x00" in text:
        raise InvalidInput("the code contains a NUL character", field="code")
    if len(text) > MAX_TEXT:
        raise InvalidInput("a fault code has at most %(maximum)s characters", field="code", maximum=MAX_TEXT)
    # NFKC folds full-width digits and letters from Chinese input methods (３２５１／０) into ASCII; other
    # scripts' digits stay as they are and do not match the ASCII-only patterns.
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _out_of_range(name: str, maximum: int) -> InvalidInput:
    messages = {
        "spn": InvalidInput("SPN is a number from 0 to %(maximum)s", field="spn", maximum=maximum),
        "fmi": InvalidInput("FMI is a number from 0 to %(maximum)s", field="fmi", maximum=maximum),
        "occurrence": InvalidInput(
            "the occurrence count is a number from 0 to %(maximum)s", field="occurrence", maximum=maximum
        ),
        "source_address": InvalidInput(
            "the source address is a number from 0 to %(maximum)s", field="source_address", maximum=maximum
        ),
    }
    return messages[name]


def _bounded(digits: str | None, maximum: int, name: str) -> int | None:
    if digits is None:
        return None
    # A long digit string is out of range before int() is asked to read it (and hit its own digit limit).
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        raise _out_of_range(name, maximum)
    return int(digits)


def j1939_code(
    spn: int, fmi: int | None = None, occurrence: int | None = None, source_address: int | None = None
) -> FaultCode:
    """Return a J1939 FaultCode from numbers, checking each against its range."""
    for value, maximum, name in (
        (spn, MAX_SPN, "spn"),
        (fmi, MAX_FMI, "fmi"),
        (occurrence, MAX_OCCURRENCE, "occurrence"),
        (source_address, MAX_SOURCE_ADDRESS, "source_address"),
    ):
        if value is not None and (isinstance(value, bool) or not 0 <= value <= maximum):
            raise _out_of_range(name, maximum)
    return FaultCode(J1939, str(spn), fmi, occurrence, source_address)


def parse_code(text: str) -> FaultCode:
    """Parse one fault code as a driver types it or a dashboard shows it."""
    cleaned = _PREFIXES.sub("", _clean(text))
    if not cleaned:
        raise InvalidInput("enter a fault code, e.g. SPN 100 FMI 1, 3251/0, P20EE or 闪码 2-2-1", field="code")
    blink = _BLINK_PREFIX.match(cleaned)
    if blink:
        digits = _BLINK_DIGITS.match(cleaned[blink.end() :])
        if not digits:
            raise InvalidInput("a blink code is three digits 1-9, e.g. 闪码 2-2-1", field="code")
        return FaultCode(BLINK, "-".join(digits.groups()))
    dashed = _BLINK_DASHED.match(cleaned)
    if dashed:
        return FaultCode(BLINK, "-".join(dashed.groups()))
    obd = _OBD2.match(cleaned)
    if obd:
        letter, digits = obd.group(1).upper(), obd.group(2).upper()
        if digits[0] not in "0123":
            raise InvalidInput("an OBD-II code's first digit is 0-3, e.g. P20EE", field="code")
        return FaultCode(OBD2, letter + digits)
    found = _SPN_FMI.match(cleaned) or _PAIR.match(cleaned)
    if not found:
        raise InvalidInput(
            "not a fault code we can read; write it as SPN 100 FMI 1, 3251/0, P20EE or 闪码 2-2-1", field="code"
        )
    spn_digits, fmi_digits, occurrence_digits = found.groups()
    return FaultCode(
        J1939,
        str(_bounded(spn_digits, MAX_SPN, "spn")),
        _bounded(fmi_digits, MAX_FMI, "fmi"),
        _bounded(occurrence_digits, MAX_OCCURRENCE, "occurrence"),
    )


def _dm1_bytes(data: bytes | str) -> bytes:
    if isinstance(data, bytes | bytearray):
        raw = bytes(data)
    elif isinstance(data, str):
        if "\x00" in data or len(data) > MAX_DM1_BYTES * 5:
            raise InvalidInput("DM1 data is too long or contains a NUL character", field="dm1")
        text = re.sub(r"0x", "", data.strip(), flags=re.IGNORECASE)
        text = re.sub(r"[\s:,\-]", "", text)
        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", text, flags=re.ASCII):
            raise InvalidInput("DM1 data is hexadecimal bytes, e.g. 04 FF B3 0C 00 01", field="dm1")
        raw = bytes.fromhex(text)
    else:
        raise InvalidInput("DM1 data is hexadecimal bytes", field="dm1")
    if len(raw) > MAX_DM1_BYTES:
        raise InvalidInput("a DM1 message has at most %(maximum)s bytes", field="dm1", maximum=MAX_DM1_BYTES)
    # A single-frame DM1 is 8 bytes: lamps, flash, one DTC and two 0xFF pad bytes.
    if len(raw) % 4 == 0 and len(raw) >= 8 and raw[-2:] == b"\xff\xff":
        raw = raw[:-2]
    if len(raw) < 2 or (len(raw) - 2) % 4:
        raise InvalidInput("DM1 data is a lamp byte, a flash byte and 4 bytes per trouble code", field="dm1")
    return raw


def parse_dm1(data: bytes | str, source_address: int | None = None) -> Dm1:
    """Decode a DM1/DM2 message (hex text or bytes) sent by the ECU at `source_address`."""
    raw = _dm1_bytes(data)
    lamps = {name: LAMP_STATES[(raw[0] >> (2 * position)) & 0b11] for position, name in enumerate(LAMPS)}
    flash = {name: FLASH_STATES[(raw[1] >> (2 * position)) & 0b11] for position, name in enumerate(LAMPS)}
    codes = []
    for start in range(2, len(raw), 4):
        dtc = raw[start : start + 4]
        # All zeros means "no active trouble codes"; all ones is an unused slot.
        if dtc in (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"):
            continue
        # SPN: 8 low bits, 8 middle bits, then the top 3 bits of the third byte; FMI: its low 5 bits.
        spn = dtc[0] | (dtc[1] << 8) | ((dtc[2] >> 5) << 16)
        fmi = dtc[2] & 0x1F
        old_conversion = bool(dtc[3] & 0x80)
        occurrence = dtc[3] & 0x7F
        codes.append(
            FaultCode(
                J1939,
                str(spn),
                fmi,
                None if occurrence == 127 else occurrence,
                source_address,
                old_conversion,
            )
        )
    return Dm1(lamps, flash, codes)
