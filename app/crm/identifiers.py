"""Validation and normalization of VINs, Chinese mobile numbers and licence plates."""

from __future__ import annotations

import re

from app.crm.regions import BY_PLATE_CHARACTER
from app.errors import InvalidInput

# Re-exported: phones are read through identifiers like VINs and plates; the rule lives below app.security.
from app.phones import mask_phone as mask_phone
from app.phones import normalize_phone as normalize_phone

VIN_TRANSLITERATION = {
    **{str(digit): digit for digit in range(10)},
    "A": 1,
    "B": 2,
    "C": 3,
    "D": 4,
    "E": 5,
    "F": 6,
    "G": 7,
    "H": 8,
    "J": 1,
    "K": 2,
    "L": 3,
    "M": 4,
    "N": 5,
    "P": 7,
    "R": 9,
    "S": 2,
    "T": 3,
    "U": 4,
    "V": 5,
    "W": 6,
    "X": 7,
    "Y": 8,
    "Z": 9,
}
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    """Return the ISO 3779 / GB 16735 check character (0-9 or X) for a 17-character VIN."""
    total = sum(VIN_TRANSLITERATION[char] * weight for char, weight in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def normalize_vin(raw: str, field: str = "vin") -> str:
    """Return the VIN in upper case after checking length, alphabet and the position-9 check digit."""
    vin = (raw or "").strip().upper().replace(" ", "")
    if len(vin) != 17:
        raise InvalidInput("a VIN has 17 characters, this one has %(count)s", field=field, count=len(vin))
    bad = [(position, char) for position, char in enumerate(vin, start=1) if char not in VIN_TRANSLITERATION]
    if bad:
        # The check digit cannot be computed over a character outside the alphabet: name where it is instead.
        position, char = bad[0]
        raise InvalidInput(
            "a VIN may not contain %(value)r (character %(position)s; I, O and Q are never used)",
            field=field,
            value=char,
            position=position,
        )
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        raise InvalidInput(
            "the VIN's check digit (9th character) is %(typed)s but the other 16 characters give %(expected)s; "
            "is one of them mistyped?",
            field=field,
            typed=vin[8],
            expected=expected,
        )
    return vin


_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_PLATE_TAIL = f"[{_PLATE_LETTERS}0-9]"
_REGULAR_PLATE = re.compile(rf"^[{_PLATE_LETTERS}]{_PLATE_TAIL}{{4}}[{_PLATE_LETTERS}0-9挂学警港澳领试超]$")
_NEW_ENERGY_PLATE = re.compile(rf"^[{_PLATE_LETTERS}](?:[DF]{_PLATE_TAIL}\d{{4}}|\d{{5}}[DF])$")


def normalize_plate(raw: str, field: str = "plate") -> str:
    """Return a Chinese licence plate (province character, letter, 5 or 6 characters) in upper case."""
    plate = (raw or "").strip().upper().replace(" ", "").replace("·", "").replace("-", "")
    if not plate or plate[0] not in BY_PLATE_CHARACTER:
        raise InvalidInput("a plate starts with a province character such as 京 or 豫", field=field)
    rest = plate[1:]
    if not (_REGULAR_PLATE.match(rest) or _NEW_ENERGY_PLATE.match(rest)):
        raise InvalidInput("not a Chinese licence plate (e.g. 豫A12345 or 京AD12345)", field=field)
    return plate


def plate_province(plate: str | None) -> str | None:
    """Return the province a plate was issued in."""
    if not plate:
        return None
    province = BY_PLATE_CHARACTER.get(plate[0])
    return province.name if province else None


def mask_name(name: str) -> str:
    """Show a person's name as its first character and asterisks (张** / J***)."""
    name = name.strip()
    return (name[0] + "*" * max(1, min(len(name) - 1, 3))) if name else name
