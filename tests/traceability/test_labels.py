"""Labels: the QR codes decode (with zxing-cpp, not our code) to exactly the part URL; codes only for the factory."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
import zxingcpp
from PIL import Image

from app.security import Role
from app.signing import KeyRing, generate_key_spec, next_kid
from tests.conftest import PUBLIC_BASE_URL, TEST_KEYS
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.traceability.factories import activation_code, make_batch, part_url, record, stock_parts
from traceability.codes import is_activation_code
from traceability.commissioning import list_batch_parts
from traceability.labels import list_labels, qr_png
from traceability.models import PartState


def test_qr_png_decodes_to_exactly_the_url_with_zxing():
    url = "https://mp.test/01/06909999000012/21/7K3M9QX2ZP4A?c=B0123456789ABCDEF"

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png(url))))

    assert [result.text for result in results] == [url]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


def test_labels_zip_has_png_per_serial_and_manifest(session, client):
    batch = make_batch(session, quantity=3)
    parts = list_batch_parts(session, batch)
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)

    response = client.get(f"/api/v1/batches/{batch.id}/labels.zip", headers=auth_header(session, staff))

    archive = zipfile.ZipFile(io.BytesIO(response.data))
    expected = [f"{part.serial}.{kind}" for part in parts for kind in ("png", "svg")]
    assert sorted(archive.namelist()) == sorted([*expected, "manifest.csv"])
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    by_serial = {row["serial"]: row for row in rows}
    for part in parts:
        image = Image.open(io.BytesIO(archive.read(f"{part.serial}.png")))
        assert zxingcpp.read_barcodes(image)[0].text == part_url(part) == by_serial[part.serial]["url"]
        assert by_serial[part.serial]["activation_code"].replace("-", "") == activation_code(part)


@pytest.mark.parametrize("role", [Role.OEM_ADMIN, Role.FACTORY_STAFF, Role.DEALER_STAFF])
def test_labels_are_refused_to_anyone_but_the_batch_factory(session, client, role):
    batch = make_batch(session, quantity=1)
    outsider = make_user(session, role)

    response = client.get(f"/api/v1/batches/{batch.id}/labels.zip", headers=auth_header(session, outsider))

    assert response.status_code == 403


def test_label_sheet_has_qr_serial_part_number_and_scratch_off_code(session, client):
    batch = make_batch(session, quantity=2)
    part = list_batch_parts(session, batch)[0]
    staff = make_user(session, Role.FACTORY_STAFF, part.holder)

    response = client.get(f"/api/v1/batches/{batch.id}/labels.html", headers=auth_header(session, staff))

    assert response.status_code == 200
    assert "<svg" in response.text
    assert part.serial in response.text
    assert batch.part_type.part_number in response.text
    scratch = response.text.split('data-area="scratch-off"')[1].split("</div>")[0]
    assert activation_code(part)[:5] in scratch


def test_labels_of_a_batch_commissioned_before_a_key_rotation_still_print_codes_that_activate(session):
    batch = make_batch(session, quantity=2)
    rotated = KeyRing.from_spec(f"{TEST_KEYS},{generate_key_spec(next_kid(TEST_KEYS))}")

    labels = list_labels(session, rotated, batch, PUBLIC_BASE_URL, 1)

    parts = {part.serial: part for part in list_batch_parts(session, batch)}
    codes = {label.serial: label.activation_code.replace("-", "") for label in labels}
    assert all(
        is_activation_code(rotated, parts[s].gtin, s, code, parts[s].activation_hash) for s, code in codes.items()
    )
    serial, part = next(iter(parts.items()))
    installer = stock_parts(session, [part], make_organization(session, kind="dealer"))
    record(session, installer, "install", [part], vin=make_vehicle(session).vin, activation_code=codes[serial])
    assert part.state == PartState.INSTALLED
