"""`milepost serve --demo` builds what the first pages need and leaves the rest to the worker, shown on /oem."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import func, select

from app.crm.models import Vehicle
from app.db import SESSIONMAKER_KEY
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
    assert session.scalars(select(Shop.code)).all() == ["SHOP-ZZ-G4"]  # the demo shop; the others come later
    assert run.state == JobState.QUEUED and run.payload == {"size": "small", "seed": 2026}
    assert (run.id, DEMO_JOB, None) in app.extensions[QUEUE_KEY].submitted


def test_every_account_the_demo_prints_exists_before_the_worker_builds_the_rest(app, session, client):
    """A newcomer signs in with the first login they read: an account the worker had not made yet gave a 401."""
    with app.app_context():
        lines = load_demo_first(app, size="small")

    printed = set(re.findall(r"[a-z0-9.]+@milepost\.demo", "\n".join(lines)))
    made = set(session.scalars(select(User.email).where(User.email.in_(printed))))
    assert {"shop@milepost.demo", "sales1@milepost.demo", "desk3@milepost.demo", "parts@milepost.demo"} <= printed
    assert made == printed
    staff = session.scalars(select(User).where(User.email == "shop@milepost.demo")).one()
    shop = session.scalars(select(Shop).where(Shop.code == "SHOP-ZZ-G4")).one()
    assert staff.organization_id == shop.organization_id and shop.highway.code == "G4"


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


def test_the_domains_find_the_workers_build_checkpoints(session, monkeypatch):
    """The demo's long steps (the first reminder round, the leads' months of history, the evaluations) must commit
    as they go in the worker's build (one 89 s transaction gave sign-ins a 503): the domains find the build's
    checkpoints by name, so the names must match, and a due checkpoint commits only once its interval passed."""
    import milepost.demo as demo
    from app.db import checkpoint_of, due_checkpoint_of

    monkeypatch.setattr(demo, "CHECKPOINT_PAUSE_SECONDS", 0)
    track = demo._checkpoints(session)
    calls = []
    monkeypatch.setattr(track, "checkpoint", lambda: calls.append(1))

    checkpoint_of(track)()
    due_checkpoint_of(track)()  # just made: not due yet
    track.last -= demo.CHECKPOINT_SECONDS + 0.1
    due_checkpoint_of(track)()
    checkpoint_of(lambda iterable, _label: iterable)()  # one transaction (`milepost demo`): nothing to call
    due_checkpoint_of(lambda iterable, _label: iterable)()

    assert calls == [1, 1]


def test_the_workers_build_holds_each_steps_paused_jobs_while_the_step_runs(app, monkeypatch, tmp_path):
    import milepost.demo as demo

    events = []

    class Queue:
        @contextmanager
        def holding(self, names):
            events.append(("hold", names))
            yield
            events.append(("release", names))

    def seeder(name):
        def seed(_session, _rng, _size, _track):
            events.append(("step", name))
            return []

        return seed

    real_rest = demo.demo_steps()[1]
    steps = [
        demo.DemoStep("plain", seeder("plain")),
        demo.DemoStep("leads", seeder("leads"), pauses=("leads.advance",)),
    ]
    monkeypatch.setattr(demo, "demo_steps", lambda: ([], steps))
    monkeypatch.setattr(demo, "CHECKPOINT_PAUSE_SECONDS", 0)
    make_session = app.extensions[SESSIONMAKER_KEY]

    demo.build_demo_rest(make_session, None, str(tmp_path), "small", 1, lambda _done, _total: None, Queue())

    assert events == [
        ("step", "plain"),
        ("hold", ("leads.advance",)),
        ("step", "leads"),
        ("release", ("leads.advance",)),
    ]
    assert [step.pauses for step in real_rest if step.name == "leads"] == [("leads.advance",)]


def test_the_leads_step_commits_as_it_goes_in_the_workers_build(session, monkeypatch):
    """The leads' simulated months held SQLite's write lock 10-22 s in one piece: sign-ins waited behind it."""
    import random

    import milepost.demo as demo
    from leads import demo as leads_demo
    from leads.models import Lead

    rng = random.Random(2026)
    demo.seed_core(session, rng, "small", demo._quiet)
    demo.seed_customers(session, rng, "small", demo._quiet)
    monkeypatch.setattr(demo, "CHECKPOINT_SECONDS", 0.0)
    track = demo._checkpoints(session)
    commits = []
    monkeypatch.setattr(track, "checkpoint", lambda: commits.append(session.scalar(select(func.count(Lead.id)))))

    leads_demo.seed(session, rng, "small", track)

    assert len(commits) > 20
    assert commits[0] < commits[-1] == session.scalar(select(func.count(Lead.id)))
