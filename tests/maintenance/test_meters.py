"""Meter readings never go backwards; a jump beyond a day's driving is kept but flagged; the record's odometer
follows the latest reading."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import InvalidInput
from tests.factories import make_vehicle
from tests.maintenance.factories import read


def test_a_reading_below_an_earlier_one_is_refused_naming_the_field(session):
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 41000, date(2026, 5, 1))

    with pytest.raises(InvalidInput) as refused:
        read(session, truck, 40000, date(2026, 5, 2))

    assert refused.value.field == "odometer_km"
    assert "41000" in refused.value.message


def test_a_late_reading_above_a_later_one_is_refused(session):
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 41000, date(2026, 5, 3))

    with pytest.raises(InvalidInput):
        read(session, truck, 42000, date(2026, 5, 1))


def test_three_thousand_km_in_a_day_is_kept_and_flagged(session):
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 10000, date(2026, 5, 1))

    jump = read(session, truck, 13000, date(2026, 5, 2))

    assert jump.flagged
    assert truck.odometer_km == 13000
