"""GTINs, serials, Digital Link parsing and building, tags and activation codes."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from tests.traceability.factories import keyring_for_tests
from traceability.codes import (
    activation_code_for,
    build_gtin,
    build_part_url,
    gtin_check_digit,
    hash_activation_code,
    is_activation_code,
    new_part_codes,
    new_serials,
    normalize_gtin,
    normalize_serial,
    parse_digital_link,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06901234567892", "06901234567892"),
        ("6901234567892", "06901234567892"),
        ("036000291452", "00036000291452"),
        ("96385074", "00000096385074"),
    ],
)
def test_normalize_gtin_pads_valid_lengths_to_14(raw, expected):
    assert normalize_gtin(raw) == expected


@pytest.mark.parametrize("raw", ["06901234567891", "690123456789", "12345", "0690123456789X", "", "０６９"])
def test_normalize_gtin_rejects_bad_check_digit_length_or_characters(raw):
    with pytest.raises(InvalidInput) as error:
        normalize_gtin(raw)

    assert error.value.field == "gtin"


def test_gtin_check_digit_matches_known_gtin():
    assert gtin_check_digit("0690123456789") == "2"


def test_build_gtin_issues_valid_gtin_from_company_prefix():
    gtin = build_gtin("6901234", 42)

    assert gtin.startswith("069012340004")
    assert normalize_gtin(gtin) == gtin


@pytest.mark.parametrize("raw", ["", "A" * 21, "AB CD", "AB#1", "序列号", "AB\n1"])
def test_normalize_serial_rejects_illegal_or_long_serials(raw):
    with pytest.raises(InvalidInput):
        normalize_serial(raw)


def test_normalize_serial_accepts_gs1_characters_up_to_20():
    assert normalize_serial("Ab-1.2/3_x" + "9" * 10) == "Ab-1.2/3_x" + "9" * 10


def test_new_serials_are_distinct_crockford_of_length_12():
    serials = new_serials(2000)

    assert len(set(serials)) == 2000
    assert all(len(serial) == 12 and set(serial) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for serial in serials)


def test_parse_digital_link_reads_identity_tag_and_attributes():
    link = parse_digital_link("https://mp.test/01/6901234567892/21/AB%2DC1?c=ATAG&10=LOT7&11=260301&99=x")

    assert (link.gtin, link.serial, link.tag) == ("06901234567892", "AB-C1", "ATAG")
    assert link.lot == "LOT7"
    assert link.production_date.isoformat() == "2026-03-01"
    assert link.origin == "https://mp.test"


@pytest.mark.parametrize(
    "url",
    [
        "https://mp.test/01/06901234567892/21/",
        "https://mp.test/01/06901234567892",
        "https://mp.test/01/069012345",
        "https://mp.test/",
        "",
    ],
)
def test_parse_digital_link_rejects_truncated_urls(url):
    with pytest.raises(InvalidInput):
        parse_digital_link(url)


def test_build_part_url_round_trips_through_parser():
    url = build_part_url("https://mp.test/", "06901234567892", "7K3M9QX2ZP4A", "ATAG")

    link = parse_digital_link(url)

    assert url == "https://mp.test/01/06901234567892/21/7K3M9QX2ZP4A?c=ATAG"
    assert (link.gtin, link.serial, link.tag) == ("06901234567892", "7K3M9QX2ZP4A", "ATAG")


def test_activation_code_has_50_bits_and_only_its_hash_verifies():
    ring = keyring_for_tests()
    code = activation_code_for(ring, "06901234567892", "SER1")
    stored = hash_activation_code(ring, "06901234567892", "SER1", code)

    assert len(code) == 10
    assert code not in stored
    assert is_activation_code(ring, "06901234567892", "SER1", code.lower(), stored)
    assert not is_activation_code(ring, "06901234567892", "SER2", code, stored)
    assert not is_activation_code(ring, "06901234567892", "SER1", "0000000000", stored)


def test_new_part_codes_are_the_tags_and_activation_hashes_of_the_reference_functions():
    ring, gtin = keyring_for_tests(), "06901234000016"
    serials = new_serials(50)

    codes = list(new_part_codes(ring, gtin, serials))

    assert codes == [
        (
            serial,
            ring.sign(f"{gtin}|{serial}"),
            hash_activation_code(ring, gtin, serial, activation_code_for(ring, gtin, serial)),
        )
        for serial in serials
    ]
