"""The fault-code parser: J1939 spellings, DM1 bytes (research file B.7 vectors), OBD-II and blink codes."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from knowledge.codes import BLINK, J1939, OBD2, FaultCode, j1939_code, parse_code, parse_dm1


@pytest.mark.parametrize(
    "text",
    ["SPN 3251 FMI 0", "3251/0", "3251-0", "spn3251fmi0", "spn3251 fmi0", "SPN:3251, FMI:0", "3251 0", "３２５１／０"],
)
def test_parse_code_reads_every_common_j1939_spelling(text):
    code = parse_code(text)

    assert (code.scheme, code.code, code.fmi) == (J1939, "3251", 0)


@pytest.mark.parametrize("text", ["SPN 100 FMI 1 OC 5", "spn100fmi1oc5", "100/1/5", "100-1 x5", "SPN 100 FMI 1 次数 5"])
def test_parse_code_keeps_the_occurrence_count(text):
    code = parse_code(text)

    assert (code.spn, code.fmi, code.occurrence) == (100, 1, 5)


def test_parse_code_reads_an_spn_without_fmi():
    assert parse_code("SPN 1761") == FaultCode(J1939, "1761", None)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("SPN 600000 FMI 3", "spn"),
        ("SPN 100 FMI 32", "fmi"),
        ("100/1/127", "occurrence"),
        ("SPN 99999999999999999999999 FMI 1", "spn"),
        ("SPN 100 FMI 1" + "0" * 5000, "code"),
        ("100\x00/1", "code"),
        ("%(spn)s", "code"),
        ("٣٢٥١/٠", "code"),
        ("", "code"),
        ("P40EE", "code"),
        ("闪码 0-2-1", "code"),
    ],
)
def test_parse_code_names_the_field_out_of_range(text, field):
    with pytest.raises(InvalidInput) as raised:
        parse_code(text)

    assert raised.value.field == field


@pytest.mark.parametrize(("text", "expected"), [("P20EE", "P20EE"), ("u0100", "U0100"), ("故障码 P0087", "P0087")])
def test_parse_code_reads_obd2_codes(text, expected):
    assert parse_code(text) == FaultCode(OBD2, expected)


@pytest.mark.parametrize("text", ["闪码 2-2-1", "闪码221", "闪码：2 2 1", "2-2-1", "blink 2-2-1"])
def test_parse_code_reads_blink_codes(text):
    assert parse_code(text) == FaultCode(BLINK, "2-2-1")


def test_code_labels_and_short_forms():
    assert parse_code("100/1").label == "SPN 100 FMI 1"
    assert parse_code("100/1").short == "100/1"
    assert parse_code("闪码221").short == "blink:2-2-1"


def test_dm1_single_code_with_amber_lamp():
    message = parse_dm1("04 FF B3 0C 00 01")

    assert message.lamps["amber"] == "on"
    assert message.lamps["red"] == "off"
    assert message.codes == [FaultCode(J1939, "3251", 0, 1)]
    assert not message.codes[0].old_conversion


def test_dm1_reads_the_three_high_spn_bits_from_the_fmi_byte():
    message = parse_dm1("04 FF 00 F0 E2 03")

    assert (message.codes[0].spn, message.codes[0].fmi, message.codes[0].occurrence) == (520192, 2, 3)


def test_dm1_two_codes_red_and_amber_and_old_conversion_flagged():
    message = parse_dm1("14 FF B3 0C 00 01 64 00 01 81", source_address=0)

    assert (message.lamps["red"], message.lamps["amber"]) == ("on", "on")
    assert [(code.spn, code.fmi, code.occurrence) for code in message.codes] == [(3251, 0, 1), (100, 1, 1)]
    assert [code.old_conversion for code in message.codes] == [False, True]
    assert message.codes[1].source_address == 0


def test_dm1_single_frame_padding_and_no_active_codes():
    assert parse_dm1(bytes.fromhex("04FFB30C0001FFFF")).codes == [FaultCode(J1939, "3251", 0, 1)]
    assert parse_dm1("00 FF 00 00 00 00").codes == []


def test_dm1_occurrence_127_means_not_available():
    assert parse_dm1("04 FF B3 0C 00 7F").codes[0].occurrence is None


@pytest.mark.parametrize("data", ["04 FF B3", "zz", "04 FF B3 0C 00", "\x00", "04" * 2000])
def test_dm1_bad_bytes_name_the_field(data):
    with pytest.raises(InvalidInput) as raised:
        parse_dm1(data)

    assert raised.value.field == "dm1"


@pytest.mark.parametrize(("values", "field"), [((524288,), "spn"), ((1, 32), "fmi"), ((1, 0, 127), "occurrence")])
def test_j1939_code_checks_ranges(values, field):
    with pytest.raises(InvalidInput) as raised:
        j1939_code(*values)

    assert raised.value.field == field
