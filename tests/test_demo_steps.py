"""`milepost serve --demo` builds what the first pages need and leaves the rest to the worker, shown on /oem."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.crm.models import Vehicle
from app.jobs import QUEUE_KEY, JobRun, JobState
from app.security import Role, User
from milepost.demo import DEMO_DRIVER_PHONE, DEMO_JOB, load_demo_first
from network.models import Shop
from tests.factories import make_user, sign_in_client


def test_first_demo_step_makes_every_login_and_queues_the_rest_for_the_worker(app, session):
    with app.app_context():
        lines = load_demo_first(app, size="small")

    roles = set(session.scalars(select(User.role).where(User.email.like("%@milepost.demo") | User.phone.is_not(None))))
    run = session.scalars(select(JobRun).where(JobRun.name == DEMO_JOB)).one()
    assert {Role.OEM_ADMIN, Role.FACTORY_STAFF, Role.WAREHOUSE_STAFF, Role.DEALER_STAFF, Role.DRIVER} <= roles
    assert any(DEMO_DRIVER_PHONE in line for line in lines)
    assert session.scalar(select(func.count()).select_from(Vehicle)) == 1  # the demo driver's truck
    assert session.scalar(select(func.count()).select_from(Shop)) == 0  # shops come with the rest
    assert run.state == JobState.QUEUED and run.payload == {"size": "small", "seed": 2026}
    assert (run.id, DEMO_JOB, None) in app.extensions[QUEUE_KEY].submitted


def test_dashboard_shows_how_far_the_worker_built_the_demo(app, session, client):
    run = JobRun(name=DEMO_JOB, trigger="on_demand", state=JobState.RUNNING, payload={})
    session.add(run)
    session.flush()
    app.extensions[QUEUE_KEY].put_progress(run.id, 3, 12)
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    running = client.get("/oem", headers={"Accept-Language": "zh-CN"}).text
    run.state = JobState.SUCCEEDED
    session.flush()
    built = client.get("/oem").text

    notice = re.search(r'<p class="notice" id="demo-build"[^>]*>(.*?)</p>', running, re.S)
    assert 'data-done="3" data-total="12"' in running
    assert "已完成 3 / 12 步" in notice.group(1)
    assert 'id="demo-build"' not in built


def test_the_maintenance_step_commits_where_the_workers_build_does(session, monkeypatch):
    """The demo's first reminder round meets every truck: in the worker's build it must commit as it goes (one 89 s
    transaction gave sign-ins a 503), so maintenance must find the build's checkpoint, and call it."""
    import milepost.demo as demo
    from maintenance.demo import checkpoint_of

    monkeypatch.setattr(demo, "CHECKPOINT_PAUSE_SECONDS", 0)
    track = demo._checkpoints(session)
    calls = []
    monkeypatch.setattr(track, "checkpoint", lambda: calls.append(1))

    checkpoint_of(track)()
    checkpoint_of(lambda iterable, _label: iterable)()  # one transaction (`milepost demo`): nothing to call

    assert calls == [1]
