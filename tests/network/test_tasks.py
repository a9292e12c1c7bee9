"""The network's jobs: roadside rounds move on with nobody looking, never over an acceptance; unanswered
booking requests expire and free their bays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.config import DEFAULTS
from app.db import SESSIONMAKER_KEY, make_sessionmaker
from app.jobs import QUEUE_KEY, execute_job
from app.security import Role, User
from network.acceptance import accept_request
from network.assistance import request_assistance
from network.booking import book_slot
from network.models import AssistanceRequest, BookingSlot, Shop
from network.rounds import ADVANCE_JOB, advance_request
from network.search import load_shop_index
from network.settings import network_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.network.factories import make_shop, next_slot

SETTINGS = network_settings(DEFAULTS)
TIMEOUT = timedelta(seconds=SETTINGS.assistance_timeout_seconds)


def _ask(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"lat": 34.75, "lon": 113.65, "vin": vehicle.vin, "description": "爆胎 flat tyre"}
    response = client.post("/api/v1/assistance", json=body, headers=auth_header(session, user))
    assert response.status_code == 201, response.get_json()
    return session.get(AssistanceRequest, response.get_json()["id"]), user


def _run(app, name, **options):
    return execute_job(app.extensions[SESSIONMAKER_KEY], app.config, name, **options)


def test_each_round_schedules_its_own_deadline_run(app, client, session):
    make_shop(session, lat=34.76, lon=113.65)
    make_shop(session, lat=35.4, lon=113.65)  # inside the second radius only
    request, _driver = _ask(client, session)

    [(run_id, name, eta)] = app.extensions[QUEUE_KEY].submitted
    assert name == ADVANCE_JOB
    assert eta == request.round_started_at + TIMEOUT

    early = _run(app, ADVANCE_JOB, run_id=run_id, now=eta - timedelta(seconds=1))
    session.refresh(request)
    assert early.result == {"advanced": False} and request.round == 0
    on_time = _run(app, ADVANCE_JOB, run_id=run_id, now=eta)
    session.refresh(request)
    assert on_time.result == {"advanced": True} and request.round == 1
    # The widened round scheduled the next deadline in the job's own transaction.
    assert [item[1] for item in app.extensions[QUEUE_KEY].submitted] == [ADVANCE_JOB, ADVANCE_JOB]


def test_a_request_nobody_accepts_reaches_the_oem_desk_by_the_minute_job(app, client, session):
    make_shop(session, lat=34.76, lon=113.65)
    request, _driver = _ask(client, session)
    start = request.round_started_at

    for minutes in range(1, 2 * len(SETTINGS.assistance_radii_km) * 10):
        _run(app, "network.assistance_rounds", now=start + timedelta(minutes=minutes))
        session.refresh(request)
        if request.status == "escalated":
            break

    assert request.status == "escalated"
    assert request.escalated_at <= start + len(SETTINGS.assistance_radii_km) * TIMEOUT + timedelta(minutes=1)
    oem = make_user(session, Role.OEM_ADMIN)
    desk = client.get("/api/v1/assistance?status=escalated", headers=auth_header(session, oem)).get_json()
    assert [item["id"] for item in desk["items"]] == [request.id]


def test_reading_an_overdue_request_changes_nothing(app, client, session):
    shop = make_shop(session, lat=34.76, lon=113.65)
    request, driver = _ask(client, session)
    request.round_started_at -= 10 * TIMEOUT
    session.flush()
    oem = make_user(session, Role.OEM_ADMIN)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    for user, path in [
        (driver, f"/api/v1/assistance/{request.id}"),
        (driver, "/api/v1/assistance"),
        (oem, "/api/v1/assistance"),
        (staff, "/api/v1/assistance"),
    ]:
        assert client.get(path, headers=auth_header(session, user)).status_code == 200
    session.refresh(request)

    assert (request.status, request.round) == ("open", 0)


def _overdue_request(maker):
    with maker() as setup:
        shop = make_shop(setup, lat=34.76, lon=113.65)
        make_shop(setup, lat=35.4, lon=113.65)  # inside the second radius only
        staff = make_user(setup, Role.SHOP_STAFF, organization=shop.organization)
        user, customer = make_driver(setup)
        vehicle = make_vehicle(setup, owner=customer)
        request = request_assistance(
            setup, user, vehicle, 34.75, 113.65, "engine", [], load_shop_index(setup), SETTINGS
        )
        setup.commit()
        return request.id, shop.id, staff.id, request.round_started_at + TIMEOUT + timedelta(seconds=1)


def test_an_advancer_that_loaded_the_request_before_a_shop_accepted_leaves_the_acceptance(committed_engine):
    maker = make_sessionmaker(committed_engine)
    request_id, shop_id, staff_id, overdue = _overdue_request(maker)

    with maker() as reader, maker() as shop_side:
        stale = reader.get(AssistanceRequest, request_id)
        index = load_shop_index(reader)
        reader.commit()  # the reader's snapshot is taken; its objects keep the old state
        accept_request(
            shop_side,
            shop_side.get(User, staff_id),
            shop_side.get(AssistanceRequest, request_id),
            shop_side.get(Shop, shop_id),
            SETTINGS,
        )
        shop_side.commit()
        changed = advance_request(reader, stale, index, SETTINGS, overdue)
        reader.commit()

    assert changed is False
    with maker() as check:
        final = check.get(AssistanceRequest, request_id)
        assert (final.status, final.accepted_shop_id, final.round) == ("accepted", shop_id, 0)


def test_two_advancers_of_one_overdue_request_widen_it_once(committed_engine):
    maker = make_sessionmaker(committed_engine)
    request_id, _shop_id, _staff_id, overdue = _overdue_request(maker)

    with maker() as first, maker() as second:
        mine, first_index = first.get(AssistanceRequest, request_id), load_shop_index(first)
        first.commit()  # each reader's snapshot is taken before either writes
        theirs, second_index = second.get(AssistanceRequest, request_id), load_shop_index(second)
        second.commit()
        outcomes = [advance_request(first, mine, first_index, SETTINGS, overdue)]
        first.commit()
        outcomes.append(advance_request(second, theirs, second_index, SETTINGS, overdue))
        second.commit()

    assert outcomes == [True, False]
    with maker() as check:
        final = check.get(AssistanceRequest, request_id)
        # Widened to the 80 km round and waiting there, not escalated past it.
        assert (final.status, final.round) == ("open", 1)


def test_unanswered_booking_request_expires_at_its_start_and_frees_its_bay(app, session):
    shop = make_shop(session, bays=1)
    user, customer = make_driver(session)
    requested_booking = book_slot(
        session, user, shop, make_vehicle(session, owner=customer), "repair", next_slot(), SETTINGS
    )
    confirmed = book_slot(
        session,
        user,
        shop,
        make_vehicle(session, owner=customer),
        "repair",
        requested_booking.start + timedelta(hours=1),
        SETTINGS,
    )
    confirmed.status = "confirmed"
    session.flush()

    before = _run(app, "network.expire_booking_requests", now=requested_booking.start - timedelta(seconds=1))
    run = _run(app, "network.expire_booking_requests", now=requested_booking.start + timedelta(seconds=1))
    session.refresh(requested_booking)
    session.refresh(confirmed)

    assert before.result == {"expired": 0} and run.result == {"expired": 1}
    assert requested_booking.status == "expired" and requested_booking.closed_at is not None
    assert confirmed.status == "confirmed"
    booked = session.scalar(
        select(BookingSlot.booked).where(
            BookingSlot.shop_id == requested_booking.shop_id, BookingSlot.start == requested_booking.start
        )
    )
    assert booked == 0


def test_the_coverage_job_computes_outside_the_write_lock(committed_engine, monkeypatch):
    """Another writer commits while the job computes (it read for half a minute under load, holding the lock)."""
    import network.tasks as tasks
    from app.config import load_settings
    from milepost.jobs import load_all_tasks
    from network.coverage import find_coverage_rollup
    from tests.app.web.test_sign_in_lock import _write_elsewhere

    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        make_shop(setup)
        user_id = make_user(setup, Role.OEM_ADMIN).id
        setup.commit()
    real = tasks.measure_coverage

    def measure_while_another_writes(*args, **kwargs):
        _write_elsewhere(committed_engine, user_id)  # fails within a second if the job holds the lock
        return real(*args, **kwargs)

    monkeypatch.setattr(tasks, "measure_coverage", measure_while_another_writes)
    load_all_tasks()

    run = execute_job(sessions, load_settings(), tasks.COVERAGE_JOB)

    with sessions() as check:
        assert check.get(User, user_id).display_name == "written meanwhile"
        assert find_coverage_rollup(check, SETTINGS.coverage_radius_km) is not None
    assert run.state == "succeeded", run.error
