"""The clone-detection state kept on the part row: written by scans, custody events and alerts, read by a scan
in one statement, safe under concurrent scans, and rebuilt by the migration from the history."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.clock import local_date
from app.db import is_postgresql, make_sessionmaker
from app.geo import LatLon
from app.security import Attempt, Role
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.races import interleave, race
from tests.traceability.factories import (
    activation_code,
    keyring_for_tests,
    make_batch,
    part_url,
    record,
    stock_parts,
)
from traceability.alerts import SIGNAL_BITS, SIGNAL_CAUSES, raise_alert, update_alert_status
from traceability.codes import parse_digital_link
from traceability.commissioning import list_batch_parts
from traceability.models import Alert, Part, Scan
from traceability.recalls import create_recall
from traceability.verification import PERSISTENT_SIGNALS, ClonePolicy, verify_scan

JSON = {"Accept": "application/json"}
BEIJING = {"lat": 39.9042, "lon": 116.4074}
GUANGZHOU = {"lat": 23.1291, "lon": 113.2644}
CHANGSHA = {"lat": 28.23, "lon": 112.94}
ZHENGZHOU = (34.75, 113.62)
POLICY = ClonePolicy(max_speed_kmh=150, max_cities=3, far_km=800, history=50, corroboration_scans=0)
KEPT = (
    "scan_count",
    "last_scan_number",
    "last_scan_lat",
    "last_scan_lon",
    "last_scan_at",
    "scan_cities",
    "chain_places",
    "sold_at",
    "sold_by_id",
    "alert_signals",
)


@pytest.fixture
def parts(session):
    return list_batch_parts(session, make_batch(session, quantity=3))


@pytest.fixture(autouse=True)
def trust_every_position(request):
    """These tests are about the clone rules themselves: every scan's position counts (row 26 is tested in
    test_clone_corroboration.py). Only tests that use the app get it (race tests use their own engine)."""
    if "client" in request.fixturenames or "app" in request.fixturenames:
        request.getfixturevalue("app").config.update(CLONE_CORROBORATION_SCANS=0)


def scan(client, part, **fields):
    return client.post("/api/v1/scans", json={"url": part_url(part), **fields}).json


def verify(session: Session, link, position: LatLon, async_commit: bool):
    """Verify a scan through the domain service, as the API does."""
    ring = keyring_for_tests()
    return verify_scan(
        session,
        ring,
        link,
        origin=PUBLIC_BASE_URL,
        position=position,
        intent=None,
        actor=None,
        policy=POLICY,
        async_commit=async_commit,
    )


def kept(session: Session, part: Part):
    """Return the part's kept state as stored now (not as an ORM object may remember it)."""
    return session.execute(select(*(Part.__table__.c[name] for name in KEPT)).where(Part.id == part.id)).one()


def test_scans_keep_count_last_located_scan_and_cities(session, client, parts):
    scan(client, parts[0])
    scan(client, parts[0], **BEIJING)
    scan(client, parts[0])

    state = kept(session, parts[0])

    assert state.scan_count == 3
    assert (state.last_scan_number, state.last_scan_lat, state.last_scan_lon) == (2, 39.9, 116.41)
    assert state.last_scan_at == session.scalar(select(Scan.scanned_at).where(Scan.lat.is_not(None)))
    assert state.scan_cities == [["Beijing", 2]]


def test_counterfeit_scans_of_a_known_serial_leave_the_state_alone(session, client, parts):
    url = part_url(parts[0]).rsplit("=", 1)[0] + "=B" + "7" * 16

    body = client.post("/api/v1/scans", json={"url": url, **BEIJING}).json

    assert body["verdict"] == "counterfeit"
    assert kept(session, parts[0]).scan_count == 0


def test_kept_cities_count_only_the_scan_history_window(session, client, app, parts):
    app.config.update(CLONE_MAX_SPEED_KMH=10**9, CLONE_SCAN_HISTORY=2)
    cities = [(36.67, 117.0), (34.75, 113.62), (30.59, 114.3), (32.06, 118.79)]

    verdicts = [scan(client, parts[0], lat=lat, lon=lon)["verdict"] for lat, lon in cities]

    # Two scans of history plus the current one never exceed three cities: as when history was queried.
    assert verdicts == ["genuine"] * 4
    assert kept(session, parts[0]).scan_cities == [["Nanjing", 4], ["Wuhan", 3]]


def test_kept_cities_are_bounded(session, client, app, parts):
    app.config["CLONE_MAX_SPEED_KMH"] = 10**9
    cities = [(36.67, 117.0), (34.75, 113.62), (30.59, 114.3), (32.06, 118.79), (39.9, 116.41), (23.13, 113.26)]

    last = [scan(client, parts[0], lat=lat, lon=lon) for lat, lon in cities][-1]

    assert "many_cities" in last["reasons"]
    assert len(kept(session, parts[0]).scan_cities) == 4


def test_last_located_scan_outside_the_history_is_not_compared(session, client, app, parts):
    app.config["CLONE_SCAN_HISTORY"] = 2
    scan(client, parts[0], **BEIJING)
    scan(client, parts[0])
    scan(client, parts[0])

    assert scan(client, parts[0], lat=36.67, lon=117.0)["verdict"] == "genuine"


def _dealer(session):
    return make_organization(session, kind="dealer", city="Zhengzhou", lat=ZHENGZHOU[0], lon=ZHENGZHOU[1])


def test_ship_and_receive_add_the_places_the_chain_reached(session, client, parts):
    factory = parts[0].holder
    dealer = _dealer(session)
    staff = make_user(session, Role.FACTORY_STAFF, factory)
    record(session, staff, "ship", parts[:1], to=dealer.code)
    shipped = sorted(map(tuple, kept(session, parts[0]).chain_places))
    record(session, make_user(session, Role.DEALER_STAFF, dealer), "receive", parts[:1])

    assert shipped == sorted([(factory.lat, factory.lon), ZHENGZHOU])
    assert sorted(map(tuple, kept(session, parts[0]).chain_places)) == shipped
    # Changsha is within 800 km of Zhengzhou but not of Jinan: the chain now reaches it.
    assert scan(client, parts[0], **CHANGSHA)["verdict"] == "genuine"
    assert scan(client, parts[1], **CHANGSHA)["reasons"] == ["far_from_chain"]


def test_sell_keeps_the_latest_sale_and_shows_the_seller(session, client, parts):
    dealer = _dealer(session)
    staff = stock_parts(session, parts[:1], dealer)
    record(session, staff, "sell", parts[:1], price="90.00")

    state = kept(session, parts[0])
    body = scan(client, parts[0])

    assert (state.sold_by_id, state.sold_at is not None) == (dealer.id, True)
    assert (body["seller"]["name"], body["seller"]["city"]) == (dealer.name, "Zhengzhou")
    # The warranty starts on the local date of the sale (TIMEZONE), not the UTC one.
    assert body["warranty"]["from"] == local_date(state.sold_at, "Asia/Shanghai").isoformat()


def test_install_and_remove_show_and_drop_the_installation(session, client, parts):
    dealer = _dealer(session)
    staff = stock_parts(session, parts[:1], dealer)
    vehicle = make_vehicle(session)
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    installed = scan(client, parts[0])
    record(session, staff, "remove", parts[:1], vin=vehicle.vin, reason="worn")
    removed = scan(client, parts[0])
    offered = scan(client, parts[0], intent="buy")

    assert (installed["verdict"], installed["installed"]["vin"][-4:]) == ("installed", vehicle.vin[-4:])
    assert (removed["verdict"], removed["installed"], removed["part"]["state"]) == ("genuine", None, "removed")
    assert offered["reasons"] == ["offered_after_removal"]


def test_destroy_makes_the_kept_part_void(session, client, parts):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, staff, "destroy", parts[:1])

    assert scan(client, parts[0])["verdict"] == "void"


def test_recall_shows_on_the_next_scan(session, client, parts):
    oem = make_user(session, Role.OEM_ADMIN)
    serials = [{"gtin": parts[0].gtin, "serial": parts[0].serial}]
    create_recall(session, oem, notice_zh="召回", notice_en="Recall", serials=serials)

    body = scan(client, parts[0])

    assert (body["verdict"], body["recall"]["notice_en"]) == ("recalled", "Recall")


def test_alert_bits_follow_alert_status(session, parts):
    oem = make_user(session, Role.OEM_ADMIN)
    alert_id = raise_alert(session, "many_cities", part=parts[0])
    raised = kept(session, parts[0]).alert_signals
    update_alert_status(session, oem, alert_id, "closed")
    closed = kept(session, parts[0]).alert_signals
    # A recurrence after closing reopens the alert (issue 10 row 25), so the part is suspect again.
    raise_alert(session, "many_cities", part=parts[0])
    recurred_after_close = kept(session, parts[0]).alert_signals
    update_alert_status(session, oem, alert_id, "investigating")

    assert (raised, closed, recurred_after_close) == (SIGNAL_BITS["many_cities"], 0, SIGNAL_BITS["many_cities"])
    assert kept(session, parts[0]).alert_signals == SIGNAL_BITS["many_cities"]


def test_refused_second_activation_sets_the_bit_with_its_alert(session, client, parts):
    dealer = _dealer(session)
    staff = stock_parts(session, parts[:1], dealer)
    vehicle = make_vehicle(session)
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    response = client.post(
        "/api/v1/events",
        json={
            "type": "install",
            "parts": [part_url(parts[0])],
            "vin": make_vehicle(session).vin,
            "activation_code": "X",
        },
        headers=auth_header(session, staff),
    )

    assert response.status_code == 409
    assert kept(session, parts[0]).alert_signals == SIGNAL_BITS["activation_after_install"]


def test_concurrent_scans_of_one_part_lose_no_update(committed_engine, committed_session):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    committed_session.commit()
    link = parse_digital_link(part_url(part))
    threads, scans_each = 6, 5
    sessions = make_sessionmaker(committed_engine)

    def prepare(session, number: int):
        def scan_repeatedly() -> None:
            for index in range(scans_each):
                position = LatLon(36.6 + number * 0.01, 117.0 + index * 0.01)
                verify(session, link, position, async_commit=number % 2 == 0)
                session.commit()

        return scan_repeatedly

    outcomes = race(sessions, prepare, [(number,) for number in range(threads)])

    with sessions() as session:
        state = kept(session, part)
        stored = session.scalar(select(func.count()).select_from(Scan).where(Scan.part_id == part.id))
        last = session.execute(select(Scan.lat, Scan.lon).order_by(Scan.scanned_at.desc(), Scan.id.desc())).first()
    assert outcomes == ["ok"] * threads
    assert state.scan_count == stored == threads * scans_each
    assert state.last_scan_number == state.scan_count
    assert (state.last_scan_lat, state.last_scan_lon) == tuple(last)


@pytest.mark.parametrize(
    ("where", "async_commit", "expected"),
    [(BEIJING, True, "off"), (BEIJING, False, "on"), ({"lat": 43.82, "lon": 87.61}, True, "on")],
)
def test_only_clean_scans_commit_asynchronously_on_postgresql(session, parts, where, async_commit, expected):
    if not is_postgresql(session):
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    link = parse_digital_link(part_url(parts[0]))
    position = LatLon(where["lat"], where["lon"])

    outcome = verify(session, link, position, async_commit=async_commit)

    assert outcome.verdict == ("genuine" if expected == "off" or not async_commit else "suspect")
    assert session.scalar(text("SHOW synchronous_commit")) == expected


def counterfeit_scan(session: Session, code: str, budget: int, async_commit: bool = True):
    """Scan a correctly formed code of a serial never issued, from one client address."""
    link = parse_digital_link(f"{PUBLIC_BASE_URL}/01/06901234000016/21/{code}?c=A{'0' * 16}")
    return verify_scan(
        session,
        keyring_for_tests(),
        link,
        origin=PUBLIC_BASE_URL,
        position=None,
        intent=None,
        actor=None,
        policy=replace(POLICY, counterfeit_alerts_per_client_hour=budget),
        async_commit=async_commit,
        client="203.0.113.9",
    )


def test_counterfeit_scans_past_the_budget_commit_asynchronously_on_postgresql(session):
    if not is_postgresql(session):
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    counterfeit_scan(session, "FAKE0001", budget=1)
    within = session.scalar(text("SHOW synchronous_commit"))

    counterfeit_scan(session, "FAKE0002", budget=1)

    assert (within, session.scalar(text("SHOW synchronous_commit"))) == ("on", "off")


def test_concurrent_counterfeit_floods_store_every_scan_and_count_each_once(committed_engine):
    threads, scans_each = 6, 4
    sessions = make_sessionmaker(committed_engine)

    def prepare(session, number: int):
        def scan_fakes() -> None:
            for index in range(scans_each):
                counterfeit_scan(session, f"FAKE{number}{index:03d}", budget=3)
                session.commit()

        return scan_fakes

    outcomes = race(sessions, prepare, [(number,) for number in range(threads)])

    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Scan).where(Scan.verdict == "counterfeit"))
        budgeted = session.scalar(select(func.count()).select_from(Attempt))
        floods = session.scalars(select(Alert.occurrences).where(Alert.cause == "counterfeit_flood")).all()
    assert outcomes == ["ok"] * threads
    assert stored == threads * scans_each
    assert len(floods) == 1 and budgeted == 3
    assert budgeted + floods[0] == threads * scans_each


def test_two_counterfeit_scans_at_once_cannot_both_take_a_clients_last_alert(committed_engine):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: the budget's count and insert cannot interleave there")

    # The second scan arrives while the first holds the budget's last slot in its open transaction.
    outcomes = interleave(
        committed_engine,
        lambda session: counterfeit_scan(session, "FAKE0001", budget=1),
        lambda session: counterfeit_scan(session, "FAKE0002", budget=1),
    )

    with make_sessionmaker(committed_engine)() as session:
        budgeted = session.scalar(select(func.count()).select_from(Attempt))
        floods = session.scalars(select(Alert.occurrences).where(Alert.cause == "counterfeit_flood")).all()
        alerted = session.scalars(select(Alert.serial).where(Alert.cause == "unknown_serial")).all()
    assert outcomes == {"first": "ok", "second": "ok"}
    assert (budgeted, alerted, floods) == (1, ["FAKE0001"], [1])


def _backfill():
    path = Path(__file__).parents[2] / "migrations/versions/20261122_0003trace_traceability_kept_scan_state_on_parts.py"
    spec = importlib.util.spec_from_file_location("kept_state_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.backfill


def test_migration_backfill_rebuilds_the_kept_state_from_the_history(connection, session, client, parts):
    dealer = _dealer(session)
    staff = stock_parts(session, parts[:2], dealer)
    record(session, staff, "sell", parts[:1], price="90.00")
    scan(client, parts[0], **BEIJING)
    scan(client, parts[0], **GUANGZHOU)
    scan(client, parts[1], lat=ZHENGZHOU[0], lon=ZHENGZHOU[1])
    scan(client, parts[1])
    session.flush()
    live = {part.id: kept(session, part) for part in parts}
    cleared = dict.fromkeys(KEPT, None) | {"scan_count": 0, "alert_signals": 0}
    session.execute(Part.__table__.update().values(cleared))

    _backfill()(session.connection())

    rebuilt = {part.id: kept(session, part) for part in parts}
    for part_id, state in live.items():
        places = sorted(map(tuple, state.chain_places or []))
        assert sorted(map(tuple, rebuilt[part_id].chain_places or [])) == places
        assert rebuilt[part_id]._asdict() | {"chain_places": 0} == state._asdict() | {"chain_places": 0}
    assert live[parts[0].id].alert_signals == SIGNAL_BITS["impossible_travel"] | SIGNAL_BITS["far_from_chain"]


def test_every_persistent_signal_has_a_kept_bit():
    assert set(PERSISTENT_SIGNALS) == set(SIGNAL_CAUSES)


def test_a_forged_code_of_a_real_part_neither_locks_the_part_nor_names_it(committed_engine):
    """A script sending a real part's code with a wrong tag must not queue genuine scans of that part behind
    its own transactions: the forged scan reads only who holds the part (its alert goes to them)."""
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serializes writers)")
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        dealer = make_organization(setup, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
        part = list_batch_parts(setup, make_batch(setup, quantity=1))[0]
        stock_parts(setup, [part], dealer)
        setup.commit()
        part_id, holder_id = part.id, dealer.id
        forged = replace(parse_digital_link(part_url(part)), tag="A" + "0" * 16)
    with sessions() as forging, sessions() as other:
        outcome = verify(forging, forged, LatLon(34.75, 113.62), async_commit=False)
        # The forged scan's transaction is still open; a genuine scan would take this lock at once.
        locked = other.execute(
            text("SELECT id FROM parts WHERE id = :id FOR UPDATE NOWAIT"), {"id": part_id}
        ).scalar_one()
        alert = forging.execute(select(Alert.organization_id, Alert.part_id).where(Alert.cause == "bad_tag")).one()
        forging.rollback()

    assert outcome.verdict == "counterfeit" and outcome.reasons == ["bad_tag"] and outcome.part is None
    assert locked == part_id
    assert alert.organization_id == holder_id and alert.part_id is None
