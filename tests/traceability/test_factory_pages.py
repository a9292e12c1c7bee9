"""Factory pages: commission from a form (inline errors naming the field), large batches as a job with progress,
batches and their labels (the zip has one label per part with the part's name)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from sqlalchemy import func, select

from app.crm.models import Organization
from app.db import SESSIONMAKER_KEY
from app.jobs import QUEUE_KEY, execute_job
from tests.factories import make_organization, sign_in_client
from tests.traceability.factories import make_batch, make_factory_staff, make_part_type
from traceability import factory_pages
from traceability.commissioning import COMMISSION_JOB
from traceability.models import Batch, Part


@pytest.fixture
def factory_user(session):
    return make_factory_staff(session)


def _form(part_type, **overrides):
    values = {
        "part_number": part_type.part_number,
        "production_line": "L2",
        "production_date": "2026-03-01",
        "qc_result": "passed",
        "qc_inspector": "王工",
        "quantity": "4",
    }
    values.update(overrides)
    return values


def _batches(session):
    return session.scalar(select(func.count()).select_from(Batch))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("production_line", "", "生产线"),
        ("quantity", "many", "数量"),
        ("quantity", "0", "数量"),
        ("production_date", "2099-01-01", "生产日期"),
        ("production_date", "yesterday", "生产日期"),
        ("part_number", "", "零件类型"),
        ("qc_result", "failed", "质量"),
    ],
)
def test_commission_form_refuses_a_bad_field_inline_naming_it(session, client, factory_user, field, value, words):
    part_type = make_part_type(session)
    csrf = sign_in_client(client, factory_user)
    before = _batches(session)

    response = client.post("/factory/batches/new", data={"csrf_token": csrf, **_form(part_type, **{field: value})})

    assert 400 <= response.status_code < 500
    alert = response.text.split('id="form-error"')[1].split("</p>")[0]
    assert f'data-field="{field}"' in alert
    if field != "qc_result":
        assert words in alert
    assert f'name="{field}"' in response.text
    assert 'aria-invalid="true"' in response.text.split(f'name="{field}"')[1][:200]
    assert _batches(session) == before


def test_a_small_batch_is_commissioned_at_once_and_its_page_opens_the_labels(session, client, factory_user):
    part_type = make_part_type(session)
    csrf = sign_in_client(client, factory_user)

    response = client.post("/factory/batches/new", data={"csrf_token": csrf, **_form(part_type)})

    assert response.status_code == 302
    batch = session.scalars(select(Batch).where(Batch.part_type_id == part_type.id)).one()
    assert session.scalar(select(func.count()).select_from(Part).where(Part.batch_id == batch.id)) == 4
    page = client.get(response.location).text
    assert f"/api/v1/batches/{batch.id}/labels.html" in page and f"/api/v1/batches/{batch.id}/labels.zip" in page
    assert batch.lot in client.get("/factory/batches").text


def test_a_large_batch_runs_as_a_job_whose_progress_the_page_polls(session, client, app, factory_user, monkeypatch):
    monkeypatch.setattr(factory_pages, "INLINE_QUANTITY", 3)
    part_type = make_part_type(session)
    csrf = sign_in_client(client, factory_user)

    response = client.post("/factory/batches/new", data={"csrf_token": csrf, **_form(part_type, quantity="7")})

    assert response.status_code == 302 and "/factory/jobs/" in response.location
    run_id = int(response.location.rstrip("/").split("/")[-1])
    assert client.get(f"/factory/jobs/{run_id}/status").json["state"] == "queued"
    assert "data-job-status" in client.get(response.location).text
    queue = app.extensions[QUEUE_KEY]
    assert [name for _id, name, _eta in queue.submitted] == [COMMISSION_JOB]

    run = execute_job(
        app.extensions[SESSIONMAKER_KEY], app.config, COMMISSION_JOB, run_id=run_id, queue=queue, extras=app.extensions
    )

    assert run.state == "succeeded", run.error
    assert queue.read_progress(run_id) == (7, 7)
    status = client.get(f"/factory/jobs/{run_id}/status").json
    assert status["state"] == "succeeded" and status["done"] == status["total"] == 7
    batch = session.get(Batch, run.result["batch_id"])
    assert status["batch_url"] == f"/factory/batches/{batch.id}"
    assert batch.quantity == 7 and batch.created_by_id == factory_user.id


def test_another_factory_sees_neither_the_batch_nor_the_job(session, client, factory_user, monkeypatch):
    monkeypatch.setattr(factory_pages, "INLINE_QUANTITY", 1)
    part_type = make_part_type(session)
    csrf = sign_in_client(client, factory_user)
    job_url = client.post("/factory/batches/new", data={"csrf_token": csrf, **_form(part_type)}).location
    batch = make_batch(session, quantity=1, factory=session.get(Organization, factory_user.organization_id))
    other = make_factory_staff(session, make_organization(session, kind="factory"))
    sign_in_client(client, other)

    assert client.get(f"/factory/batches/{batch.id}").status_code == 404
    assert client.get(job_url).status_code == 404
    assert client.get(f"{job_url}/status").status_code == 404
    assert batch.lot not in client.get("/factory/batches").text


def test_labels_zip_holds_one_label_per_part_with_the_part_name(session, client, factory_user):
    part_type = make_part_type(session, name_zh="制动蹄片总成", name_en="Brake shoe assembly")
    factory = session.get(Organization, factory_user.organization_id)
    batch = make_batch(session, quantity=3, part_type=part_type, factory=factory)
    sign_in_client(client, factory_user)

    response = client.get(f"/api/v1/batches/{batch.id}/labels.zip")

    archive = zipfile.ZipFile(io.BytesIO(response.data))
    serials = {part.serial for part in session.scalars(select(Part).where(Part.batch_id == batch.id))}
    labels = [name for name in archive.namelist() if name.endswith(".svg")]
    assert sorted(labels) == sorted(f"{serial}.svg" for serial in serials)
    for name in labels:
        label = archive.read(name).decode()
        assert "制动蹄片总成" in label and "Brake shoe assembly" in label and name[:-4] in label
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert {row["part_name_zh"] for row in rows} == {"制动蹄片总成"}
    sheet = client.get(f"/api/v1/batches/{batch.id}/labels.html").text
    assert "制动蹄片总成" in sheet


def test_factory_pages_are_for_factory_staff(session, client):
    from app.security import Role
    from tests.factories import make_user

    sign_in_client(client, make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop")))

    assert client.get("/factory/batches").status_code == 403
    assert client.get("/factory/batches/new").status_code == 403
