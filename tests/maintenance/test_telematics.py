"""`milepost maintenance import-telematics FILE`: JT/T 808 mileage (1/10 km) per VIN becomes one reading per truck
and day; bad rows are reported with their line numbers and the command exits non-zero."""

from __future__ import annotations

from sqlalchemy import select

from maintenance.models import MeterReading
from tests.factories import make_vehicle


def _readings(session, truck):
    statement = select(MeterReading).where(MeterReading.vehicle_id == truck.id).order_by(MeterReading.read_at)
    return [(reading.value, reading.source) for reading in session.scalars(statement)]


def test_import_records_each_trucks_last_report_of_the_day(app, session, tmp_path):
    truck = make_vehicle(session, odometer_km=None)
    path = tmp_path / "reports.csv"
    path.write_text(
        "vin,reported_at,mileage\n"
        f"{truck.vin},2026-11-30T08:00:00+08:00,1200005\n"
        f"{truck.vin},2026-11-30T18:00:00+08:00,1204507\n"
        f"{truck.vin},2026-12-01 09:00:00,1210000\n",
        encoding="utf-8",
    )

    result = app.test_cli_runner().invoke(args=["maintenance", "import-telematics", str(path)])

    assert result.exit_code == 0, result.output
    assert "3 rows read, 1 vehicles, 2 readings recorded, 0 bad rows" in result.output
    assert _readings(session, truck) == [(120450, "telematics"), (121000, "telematics")]


def test_bad_rows_are_reported_by_line_and_the_good_ones_kept(app, session, tmp_path):
    truck = make_vehicle(session, odometer_km=None)
    path = tmp_path / "reports.csv"
    path.write_text(
        "vin,reported_at,mileage\n"
        f"{truck.vin},2026-11-30T08:00:00+08:00,1200000\n"
        f"{truck.vin},yesterday,1200100\n"
        "LZZ00000000000000,2026-11-30T08:00:00+08:00,5\n"
        f"{truck.vin},2026-12-01T08:00:00+08:00,1100000\n",
        encoding="utf-8",
    )

    result = app.test_cli_runner().invoke(args=["maintenance", "import-telematics", str(path)])

    assert result.exit_code == 1
    assert "4 rows read, 1 vehicles, 1 readings recorded, 3 bad rows" in result.output
    assert "line 3: reported_at" in result.output
    assert "line 4: vin" in result.output
    assert "line 5: mileage" in result.output
    assert _readings(session, truck) == [(120000, "telematics")]


def test_a_reading_below_the_stored_one_is_a_bad_row(app, session, tmp_path):
    truck = make_vehicle(session, odometer_km=None)
    path = tmp_path / "reports.csv"
    path.write_text(f"vin,reported_at,mileage\n{truck.vin},2026-11-30T08:00:00+08:00,1200000\n", encoding="utf-8")
    app.test_cli_runner().invoke(args=["maintenance", "import-telematics", str(path)])
    path.write_text(f"vin,reported_at,mileage\n{truck.vin},2026-12-01T08:00:00+08:00,1000000\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(args=["maintenance", "import-telematics", str(path)])

    assert result.exit_code == 1
    assert "line 2: mileage: 100000 is below the reading of 120000" in result.output
