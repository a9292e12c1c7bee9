"""VINs, Chinese mobile numbers and licence plates: what is accepted, how it is normalized, what is refused."""

from __future__ import annotations

import pytest

from app.crm.identifiers import (
    VIN_TRANSLITERATION,
    mask_name,
    mask_phone,
    normalize_phone,
    normalize_plate,
    normalize_vin,
    plate_province,
    vin_check_digit,
)
from app.errors import InvalidInput

# Published VINs with correct check digits: NHTSA's and ISO 3779's worked examples, manufacturers' records
# quoted in public documentation, and Chinese makes (SAIC Volkswagen LSV, Dongfeng Honda LVH, BYD LC0).
REAL_VINS = [
    "1M8GDM9AXKP042788",  # NHTSA example (Motor Coach Industries), check digit X
    "5N1NJ01CXST000001",  # Nissan, check digit X
    "1HGCM82633A004352",  # Honda Accord
    "JHMCM56557C404453",  # Honda (Japan)
    "SAJWA0HEXDMS56024",  # Jaguar (UK), check digit X
    "5GZCZ43D13S812715",  # Saturn
    "LSVAX60E8K2018698",  # SAIC Volkswagen Touareg, from a Chinese VIN-decoder's documentation
    "LVHFB2642D5033786",  # Dongfeng Honda, from a Chinese insurance API example
    "LC0C76C41R4095092",  # BYD
    "HE9XR1C48PS083871",  # hutool's VIN test (low-volume maker)
]
VIN_ALPHABET = sorted(VIN_TRANSLITERATION)


@pytest.mark.parametrize("vin", REAL_VINS)
def test_normalize_vin_accepts_real_vins(vin):
    assert normalize_vin(vin) == vin


@pytest.mark.parametrize("vin", REAL_VINS)
def test_normalize_vin_upper_cases_and_strips(vin):
    assert normalize_vin(f"  {vin.lower()} ") == vin


@pytest.mark.parametrize("vin", REAL_VINS)
def test_normalize_vin_rejects_every_detectable_single_character_corruption(vin):
    accepted = []

    for position in range(17):
        for replacement in VIN_ALPHABET:
            if replacement == vin[position]:
                continue
            corrupted = vin[:position] + replacement + vin[position + 1 :]
            try:
                normalize_vin(corrupted)
            except InvalidInput as error:
                assert error.field == "vin"
            else:
                accepted.append((position, vin[position], replacement))

    # ISO 3779 maps several characters to one value (1, A, J; 2, B, K, S; ...); swapping those cannot be seen.
    # Everything else changes the weighted sum by a non-multiple of 11 (11 is prime) and must be caught.
    assert all(
        VIN_TRANSLITERATION[old] == VIN_TRANSLITERATION[new] and position != 8 for position, old, new in accepted
    )


@pytest.mark.parametrize("vin", REAL_VINS)
def test_normalize_vin_rejects_i_o_and_q(vin):
    for letter in "IOQ":
        with pytest.raises(InvalidInput, match="I, O and Q"):
            normalize_vin(letter + vin[1:])


@pytest.mark.parametrize("raw", ["", "1M8GDM9AXKP04278", "1M8GDM9AXKP0427888", "1M8GDM9AXKP04278!", None])
def test_normalize_vin_rejects_wrong_length_or_characters(raw):
    with pytest.raises(InvalidInput) as caught:
        normalize_vin(raw)

    assert caught.value.field == "vin"


def test_normalize_vin_names_the_typed_and_the_expected_check_digit():
    with pytest.raises(InvalidInput, match="is 1 but the other 16 characters give X") as caught:
        normalize_vin("1M8GDM9A1KP042788")

    assert caught.value.details == {"typed": "1", "expected": "X"}


def test_normalize_vin_names_the_position_of_a_character_never_used():
    with pytest.raises(InvalidInput, match="character 4;") as caught:
        normalize_vin("1M8QDM9AXKP042788")

    assert caught.value.details["value"] == "Q"


def test_vin_check_digit_matches_the_published_examples():
    assert [vin_check_digit(vin) for vin in REAL_VINS] == [vin[8] for vin in REAL_VINS]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("(138) 1234-5678", "13812345678"),
        ("19912345678", "19912345678"),
        ("16612345678", "16612345678"),
        # Full-width digits (a phone keyboard's full-width mode) are the number they show: NFKC makes them ASCII.
        ("１３８１２３４５６７８", "13812345678"),
        ("13８１２３４５６７８", "13812345678"),
        ("＋８６ 138 1234 5678", "13812345678"),
    ],
)
def test_normalize_phone_accepts_chinese_mobiles(raw, normalized):
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12812345678",  # 12x is not a mobile prefix
        "10812345678",
        "23812345678",
        "010-12345678",  # Beijing landline
        "+1 415 555 0100",
        "1381234567a",
        "+85 13812345678",
        "13٨١٢٣٤٥٦٧٨",  # Arabic-Indic digits look like a number they are not
        "1३८१२३४५६७८",  # Devanagari digits
        "13\x0012345678",
    ],
)
def test_normalize_phone_rejects_non_mobiles(raw):
    with pytest.raises(InvalidInput) as caught:
        normalize_phone(raw)

    assert caught.value.field == "phone"


@pytest.mark.parametrize(
    ("raw", "normalized", "province"),
    [
        ("豫A12345", "豫A12345", "Henan"),
        ("京a·12345", "京A12345", "Beijing"),
        ("沪 B-1234X", "沪B1234X", "Shanghai"),
        ("粤B1234挂", "粤B1234挂", "Guangdong"),
        ("鲁AD12345", "鲁AD12345", "Shandong"),  # new-energy small car
        ("苏E12345F", "苏E12345F", "Jiangsu"),  # new-energy large vehicle
        ("蒙K1234学", "蒙K1234学", "Inner Mongolia"),
        ("新AB1C23", "新AB1C23", "Xinjiang"),
    ],
)
def test_normalize_plate_accepts_chinese_plates(raw, normalized, province):
    assert normalize_plate(raw) == normalized
    assert plate_province(normalized) == province


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "A12345",  # no province character
        "台A12345",  # not a mainland plate issuer
        "豫12345",  # missing the city letter
        "豫A1234",  # too short
        "豫A1234567",  # too long
        "豫AI2345",  # I is never used
        "豫AO2345",  # nor O
        "豫1A2345",
        "鲁AD1234X",  # new-energy plates end in digits
    ],
)
def test_normalize_plate_rejects_non_plates(raw):
    with pytest.raises(InvalidInput) as caught:
        normalize_plate(raw)

    assert caught.value.field == "plate"


@pytest.mark.parametrize(
    ("phone", "masked"), [("13812345678", "138****5678"), (None, None), ("", ""), ("1234", "****")]
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(("name", "masked"), [("张三", "张*"), ("欧阳修文", "欧***"), ("John Smith", "J***"), ("", "")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked
