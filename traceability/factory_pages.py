"""Factory pages (desktop): commission a batch from a form, follow a large batch's job, list batches, open labels."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.clock import local_today
from app.crm.models import Organization
from app.errors import InvalidInput, MilepostError, NotFound, fill_in
from app.jobs import QUEUE_KEY, JobRun, JobState, enqueue, run_to_dict
from app.security import Role, User
from app.web.auth import page_actor
from app.web.context import code_keyring, db_session, settings
from app.web.csrf import check_csrf
from app.web.endpoints import parse_query
from app.web.navigation import NavLink
from app.web.pagination import PageQuery, paginate
from app.web.transaction import discard_request_writes
from traceability.catalogue import get_part_type
from traceability.commissioning import COMMISSION_JOB, QcResult, check_batch_request, commission_batch
from traceability.labels import LABELS_PER_PAGE
from traceability.models import Batch, Part, PartType
from traceability.settings import read_settings

pages = Blueprint("factory", __name__, template_folder="templates")

# Batches up to this size are commissioned while the form waits; larger ones go to the worker with progress.
INLINE_QUANTITY = 2000
FIELD_LABELS = {
    "part_number": _l("Part type"),
    "production_line": _l("Production line"),
    "production_date": _l("Production date"),
    "qc_result": _l("Quality check"),
    "qc_inspector": _l("QC inspector"),
    "quantity": _l("Quantity"),
    "factory": _l("Factory"),
}
QC_LABELS = {QcResult.PASSED: _l("Passed"), QcResult.CONCESSION: _l("Released by concession")}
JOB_STATE_LABELS = {
    JobState.QUEUED: _l("Waiting for the worker"),
    JobState.RUNNING: _l("Writing parts"),
    JobState.SUCCEEDED: _l("Done"),
    JobState.FAILED: _l("Failed"),
}

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = [
    NavLink("factory.batches", _l("Batches"), (Role.FACTORY_STAFF,)),
    NavLink("factory.new_batch", _l("Commission"), (Role.FACTORY_STAFF,)),
]


def field_error_text(error: MilepostError) -> str:
    """Return an error in the page's language, naming its field in words rather than by its form name."""
    label = FIELD_LABELS.get(error.field or "")
    return fill_in(gettext(error.template), {**error.details, "field": str(label) if label else error.field})


def _factory_actor() -> User | Response:
    return page_actor(Role.FACTORY_STAFF)


def _own_batch(actor: User, batch_id: int) -> Batch:
    batch = db_session().get(Batch, batch_id)
    # Another factory's batch is not found: its lots and volumes are not this factory's business.
    if batch is None or batch.factory_id != actor.organization_id:
        abort(404)
    return batch


@pages.route("/factory/batches")
def batches():
    """List the factory's batches, newest first."""
    actor = _factory_actor()
    if isinstance(actor, Response):
        return actor
    query = parse_query(PageQuery)
    statement = select(Batch).where(Batch.factory_id == actor.organization_id).order_by(Batch.id.desc())
    result = paginate(db_session(), statement, query, lambda batch: batch)
    return render_template("traceability/factory/batches.html", result=result, qc_labels=QC_LABELS)


def _read_form(form: dict) -> dict:
    """Read the commissioning form into typed values, refusing the first unreadable field by name."""
    quantity_text = (form.get("quantity") or "").strip()
    if not quantity_text.isdigit() or len(quantity_text) > 9:
        raise InvalidInput("%(field)s must be a whole number", field="quantity")
    try:
        production_date = date.fromisoformat((form.get("production_date") or "").strip())
    except ValueError:
        raise InvalidInput("%(field)s must be a date (YYYY-MM-DD)", field="production_date") from None
    if not (form.get("part_number") or "").strip():
        raise InvalidInput("%(field)s is required", field="part_number")
    return {
        "part_number": form["part_number"].strip(),
        "quantity": int(quantity_text),
        "production_line": form.get("production_line") or "",
        "production_date": production_date,
        "qc_result": form.get("qc_result") or "",
        "qc_inspector": form.get("qc_inspector") or "",
    }


@pages.route("/factory/batches/new", methods=["GET", "POST"])
def new_batch():
    """Show the commissioning form; commission a small batch now, queue a large one and follow its progress."""
    actor = _factory_actor()
    if isinstance(actor, Response):
        return actor
    session = db_session()
    form = request.form.to_dict() if request.method == "POST" else {"production_date": local_today(settings())}
    error: MilepostError | None = None
    if request.method == "POST":
        check_csrf()
        try:
            return _commission(session, actor, _read_form(form))
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
    part_types = session.scalars(select(PartType).order_by(PartType.part_number).limit(1000)).all()
    page = render_template(
        "traceability/factory/new_batch.html",
        form=form,
        error=error,
        error_message=field_error_text(error) if error else None,
        part_types=part_types,
        qc_labels=QC_LABELS,
        inline_quantity=INLINE_QUANTITY,
    )
    return page, (error.status if error else 200)


def _commission(session, actor: User, values: dict) -> Response:
    factory = session.get(Organization, actor.organization_id)
    if factory is None:
        raise InvalidInput("name the factory", field="factory")
    part_type = get_part_type(session, values["part_number"])
    limits = read_settings(settings())
    today = local_today(settings())
    fields = {key: value for key, value in values.items() if key != "part_number"}
    if values["quantity"] <= INLINE_QUANTITY:
        batch = commission_batch(
            session,
            code_keyring(),
            part_type=part_type,
            factory=factory,
            max_quantity=limits.commission_max_api,
            created_by=actor,
            today=today,
            **fields,
        )
        return redirect(url_for("factory.batch", batch_id=batch.id, commissioned=1))
    check_batch_request(factory=factory, max_quantity=limits.commission_max_api, today=today, **fields)
    payload = {
        **fields,
        "part_number": part_type.part_number,
        "factory_id": factory.id,
        "production_date": values["production_date"].isoformat(),
    }
    run = enqueue(session, COMMISSION_JOB, payload, actor_id=actor.id)
    return redirect(url_for("factory.job", run_id=run.id))


@pages.route("/factory/batches/<int:batch_id>")
def batch(batch_id: int):
    """Show one batch with its labels: the zip of QR codes and the print sheet, page by page."""
    actor = _factory_actor()
    if isinstance(actor, Response):
        return actor
    found = _own_batch(actor, batch_id)
    count = db_session().scalar(select(func.count()).select_from(Part).where(Part.batch_id == found.id)) or 0
    label_pages = max(1, -(-count // LABELS_PER_PAGE))
    return render_template(
        "traceability/factory/batch.html",
        batch=found,
        part_count=count,
        label_pages=range(1, label_pages + 1),
        qc_labels=QC_LABELS,
        commissioned=request.args.get("commissioned") == "1",
    )


def _own_run(actor: User, run_id: int) -> JobRun:
    run = db_session().get(JobRun, run_id)
    if run is None or run.name != COMMISSION_JOB or run.requested_by_id != actor.id:
        raise NotFound("no job run %(run_id)s", field="run_id", run_id=run_id)
    return run


def _run_status(run: JobRun) -> dict:
    status = run_to_dict(run, current_app.extensions.get(QUEUE_KEY))
    batch_id = (run.result or {}).get("batch_id")
    return {
        "state": status["state"],
        "state_label": str(JOB_STATE_LABELS.get(run.state, run.state)),  # type: ignore[call-overload]
        "done": status["progress"]["done"],
        "total": status["progress"]["total"] or int((run.payload or {}).get("quantity", 0)),
        "batch_url": url_for("factory.batch", batch_id=batch_id) if batch_id else None,
        "error": status["error"],
    }


@pages.route("/factory/jobs/<int:run_id>")
def job(run_id: int):
    """Show a large batch's commissioning progress (the page polls the status below, or refreshes itself)."""
    actor = _factory_actor()
    if isinstance(actor, Response):
        return actor
    run = _own_run(actor, run_id)
    return render_template("traceability/factory/job.html", run=run, status=_run_status(run), payload=run.payload or {})


@pages.route("/factory/jobs/<int:run_id>/status")
def job_status(run_id: int):
    """Return a commissioning job's state and progress as JSON for the progress page."""
    actor = _factory_actor()
    if isinstance(actor, Response):
        return actor
    return jsonify(_run_status(_own_run(actor, run_id)))
