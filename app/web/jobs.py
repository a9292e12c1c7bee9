"""The OEM's view of the job worker: every job's last run, duration and failures; one run's progress."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import lazy_gettext as _l

from app.db import utcnow
from app.errors import NotFound
from app.jobs import QUEUE_KEY, JobState, get_run, list_job_status, run_to_dict
from app.security import Role, require_role
from app.web.context import current_actor, db_session
from app.web.endpoints import ApiBlueprint
from app.web.navigation import NavLink

api = ApiBlueprint("jobs_api", __name__, tag="Jobs")
pages = Blueprint("jobs", __name__, template_folder="templates")
NAVIGATION = [NavLink("jobs.job_status_page", _l("Jobs"), (Role.OEM_ADMIN,))]
JOB_STATES = {
    JobState.QUEUED: _l("queued"),
    JobState.RUNNING: _l("running"),
    JobState.SUCCEEDED: _l("succeeded"),
    JobState.FAILED: _l("failed"),
}
# Each job's name in the page's language (a job's summary is its English docstring); the shell registers them.
JOB_LABELS: dict[str, object] = {}


def register_job_labels(labels: dict[str, object]) -> None:
    """Name jobs on the jobs page in the reader's language."""
    JOB_LABELS.update(labels)


def _queue():
    return current_app.extensions.get(QUEUE_KEY)


@api.endpoint("GET", "/jobs", access=(Role.OEM_ADMIN,), summary="List the worker's jobs with their last run")
def list_jobs(actor):
    return {"items": list_job_status(db_session(), utcnow())}


@api.endpoint("GET", "/jobs/runs/<int:run_id>", access=(Role.OEM_ADMIN,), summary="Show one job run and its progress")
def show_run(actor, run_id: int):
    run = get_run(db_session(), run_id)
    if run.requested_by_id not in (None, actor.id) and actor.role != Role.OEM_ADMIN:
        raise NotFound(f"no job run {run_id}")
    return run_to_dict(run, _queue())


@pages.route("/jobs")
def job_status_page():
    """Show the OEM every job's last run, duration and failures."""
    require_role(current_actor(), Role.OEM_ADMIN)
    return render_template(
        "jobs/status.html", jobs=list_job_status(db_session(), utcnow()), job_labels=JOB_LABELS, job_states=JOB_STATES
    )
