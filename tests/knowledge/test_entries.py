"""Entries: the FMI table, the lookup's fallback, the shipped set and the importer of licensed tables."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from knowledge.codes import parse_code
from knowledge.entries import (
    Applicability,
    applicability_of,
    import_entries,
    install_shipped_entries,
    lookup_code,
    lookup_text,
    search_entries,
    set_model_profile,
)
from knowledge.fmi import FMI_MEANINGS
from knowledge.models import FaultEntry
from tests.factories import make_vehicle
from tests.knowledge.factories import make_entry

HEADER = (
    "scheme,code,fmi,engine_family,emission_stage,title_zh,title_en,text_zh,text_en,severity,may_continue,service\n"
)
WEICHAI_CN6 = Applicability(model="HOWO TX", engine_family="weichai", emission_stage="cn6")


def test_fmi_table_has_all_32_in_zh_and_en_with_22_to_30_reserved():
    assert sorted(FMI_MEANINGS) == list(range(32))
    assert all(meaning.zh and meaning.en for meaning in FMI_MEANINGS.values())
    assert [fmi for fmi, meaning in FMI_MEANINGS.items() if meaning.reserved] == list(range(22, 31))
    assert all("reserved" in FMI_MEANINGS[fmi].en and "保留" in FMI_MEANINGS[fmi].zh for fmi in range(22, 31))


def test_lookup_prefers_the_entry_for_the_trucks_engine_and_stage(session):
    generic = make_entry(session, "3251", 0)
    specific = make_entry(session, "3251", 0, Applicability(engine_family="weichai", emission_stage="cn6"))

    assert lookup_code(session, parse_code("3251/0"), WEICHAI_CN6).entry == specific
    assert lookup_code(session, parse_code("3251/0"), Applicability(engine_family="yuchai")).entry == generic
    assert lookup_code(session, parse_code("3251/0")).entry == generic


def test_lookup_falls_back_to_the_spn_alone_then_to_the_fmi_meaning(session):
    spn_only = make_entry(session, "3251", None)

    found = lookup_code(session, parse_code("3251/7"))
    unknown = lookup_code(session, parse_code("SPN 520000 FMI 4"))

    assert (found.entry, found.matched, found.fmi.fmi) == (spn_only, "code", 7)
    assert (unknown.entry, unknown.verdict, unknown.matched) == (None, "unknown", "none")
    assert unknown.to_dict("en")["fmi_meaning"] == FMI_MEANINGS[4].en
    assert unknown.service == "repair"


def test_lookup_for_a_vehicle_uses_its_models_profile(session):
    make_entry(session, "100", 1, severity="service_soon")
    specific = make_entry(session, "100", 1, Applicability(engine_family="weichai"), severity="stop")
    vehicle = make_vehicle(session, model="HOWO TX")
    set_model_profile(session, "HOWO TX", "Weichai", "CN6")

    assert applicability_of(session, vehicle) == WEICHAI_CN6
    assert lookup_text(session, "100/1", vehicle).entry == specific
    assert lookup_text(session, "100/1", make_vehicle(session, model="Other")).entry != specific


def test_entry_for_another_ecu_applies_only_to_codes_from_that_ecu(session):
    make_entry(session, "3251", 0, source_address=61)

    assert lookup_code(session, parse_code("3251/0")).entry is None


def test_shipped_entries_install_and_answer_the_common_codes(session):
    added, _updated = install_shipped_entries(session)
    again = install_shipped_entries(session)

    assert added >= 60 and again == (0, added)
    stop = lookup_code(session, parse_code("SPN 100 FMI 1"))
    assert (stop.verdict, stop.entry.may_continue, stop.service) == ("stop", "no", "engine")
    assert lookup_code(session, parse_code("100/17")).verdict == "service_soon"
    assert lookup_code(session, parse_code("P20EE")).entry.title["zh"]


def test_shipped_install_keeps_an_oems_imported_wording(session):
    import_entries(session, (HEADER + "j1939,100,1,,,厂家的话,OEM words,t,t,stop,no,engine\n").encode())

    install_shipped_entries(session)

    assert lookup_code(session, parse_code("100/1")).entry.title["zh"] == "厂家的话"


def test_import_is_all_or_nothing_and_lists_bad_rows_by_line(session):
    data = (
        HEADER
        + "j1939,3251,0,weichai,cn6,DPF堵,DPF blocked,t,t,service_soon,limited,engine\n"
        + "j1939,600000,0,,,x,x,t,t,stop,no,engine\n"
        + "j1939,100,40,,,x,x,t,t,stop,no,engine\n"
        + "j1939,100,1,,,x,x,t,t,dreadful,no,engine\n"
        + "j1939,3251,0,weichai,cn6,again,again,t,t,stop,no,engine\n"
    ).encode()

    with pytest.raises(InvalidInput) as raised:
        import_entries(session, data)

    assert [(row["row"], row["field"]) for row in raised.value.details["errors"]] == [
        (3, "spn"),
        (4, "fmi"),
        (5, "severity"),
        (6, "code"),
    ]
    assert session.query(FaultEntry).count() == 0


def test_import_refuses_rows_claiming_milepost_as_their_source(session):
    data = "scheme,code,title_zh,title_en,text_zh,text_en,severity,may_continue,source\n"
    data += "j1939,100,x,x,t,t,stop,no,milepost\n"

    with pytest.raises(InvalidInput) as raised:
        import_entries(session, data.encode())

    assert raised.value.details["errors"][0]["field"] == "source"


@pytest.mark.parametrize(
    ("query", "code"), [("机油压力", "100"), ("尿素", "1761"), ("DPF", "3251"), ("ｄｐｆ 再生", "3251")]
)
def test_search_finds_shipped_entries_in_chinese(session, query, code):
    install_shipped_entries(session)

    found = search_entries(session, query)

    assert code in [entry.code for entry in found]


def test_search_treats_like_wildcards_as_text(session):
    install_shipped_entries(session)

    assert search_entries(session, "%") == []
    assert search_entries(session, "_") == []
