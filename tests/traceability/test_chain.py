"""The custody chains: keyed per organization, verified in parallel, tamper found even by someone who can
edit rows and recompute hashes (issue 10 row 30)."""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import select, text, update

from app.db import make_sessionmaker
from app.signing import KeyRing, generate_key_spec
from tests.conftest import TEST_KEYS
from tests.factories import make_organization
from tests.traceability.factories import keyring_for_tests, make_batch, record, stock_parts
from traceability.chain import (
    _CONTENT_COLUMNS,
    CHAIN_CONTEXT,
    _stored_message,
    chain_message,
    event_hash,
    reseal_chains,
    verify_chain,
)
from traceability.commissioning import list_batch_parts
from traceability.models import ChainHead, CustodyEvent, Part


def _events(session) -> list[CustodyEvent]:
    return list(session.scalars(select(CustodyEvent).order_by(CustodyEvent.id)))


def _rewrite(session, event: CustodyEvent, digest, **changes) -> None:
    """Change an event and recompute its link and its successors' the way a row editor would, with `digest`."""
    for name, value in changes.items():
        setattr(event, name, value)
    chain = list(
        session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.organization_id == event.organization_id, CustodyEvent.sequence >= event.sequence)
            .order_by(CustodyEvent.sequence)
        )
    )
    previous = event.previous_hash
    for later in chain:
        later.previous_hash = previous
        later.hash = previous = digest(later)
    session.execute(update(ChainHead).where(ChainHead.organization_id == event.organization_id).values(hash=previous))
    session.flush()


def _unkeyed(event: CustodyEvent) -> str:
    fields = (event.sequence, event.event_type, event.part_count, event.parts_digest, event.previous_hash)
    return hashlib.sha256("\x1f".join(map(str, fields)).encode()).hexdigest()


@pytest.fixture
def chain(session):
    make_batch(session, quantity=2)
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts, dealer)
    record(session, staff, "sell", parts[:1], price="100.00")
    record(session, staff, "sell", parts[1:], price="100.00")
    return parts


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(_unkeyed, id="plain sha-256"),
        pytest.param(lambda event: event_hash(KeyRing.from_spec(generate_key_spec("B")), event), id="another key"),
    ],
)
def test_edited_and_rehashed_chain_is_found_altered(session, chain, forge):
    event = _events(session)[1]
    _rewrite(session, event, forge, part_count=999)

    checked, problem = verify_chain(session, keyring_for_tests())

    assert problem is not None
    assert (problem.event_id, problem.problem) == (event.id, "altered: its content no longer matches its MAC")


def test_each_organization_keeps_its_own_numbered_chain(session, chain):
    events = _events(session)

    numbers = {}
    for event in events:
        numbers.setdefault(event.organization_id, []).append(event.sequence)

    assert sorted(numbers.values()) == [[1], [1, 2], [1, 2, 3]]  # two factories (the second shipped), the dealer
    assert all(event.key_id == keyring_for_tests().signing_kid for event in events)
    assert verify_chain(session, keyring_for_tests()) == (len(events), None)


def test_removed_newest_event_is_found(session, chain):
    newest = _events(session)[-1]
    session.execute(text("DELETE FROM sales WHERE event_id = :id"), {"id": newest.id})
    session.execute(text("DELETE FROM custody_event_parts WHERE event_id = :id"), {"id": newest.id})
    session.execute(text("DELETE FROM custody_events WHERE id = :id"), {"id": newest.id})

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert problem.problem == "missing: the newest events were removed"
    assert problem.organization_id == newest.organization_id


def test_removed_middle_event_is_found(session, chain):
    dealer = _events(session)[-1].organization_id
    middle = [event for event in _events(session) if event.organization_id == dealer][1]
    for table in ("sales", "custody_event_parts"):
        session.execute(text(f"DELETE FROM {table} WHERE event_id = :id"), {"id": middle.id})
    session.execute(text("DELETE FROM custody_events WHERE id = :id"), {"id": middle.id})

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert (problem.sequence, problem.problem) == (2, "missing (the next stored is #3)")


def test_events_sealed_before_a_key_rotation_still_verify(session, chain):
    rotated = KeyRing.from_spec(TEST_KEYS + "," + generate_key_spec("Z"))

    assert verify_chain(session, rotated)[1] is None
    assert verify_chain(session, KeyRing.from_spec(generate_key_spec("Q")))[1].problem.startswith("sealed with key")


def test_reseal_seals_events_from_before_keyed_chains(session, chain):
    session.execute(update(CustodyEvent).values(key_id=None))  # what the upgrade leaves
    session.expire_all()
    assert verify_chain(session, keyring_for_tests())[1].problem.startswith("not sealed")

    sealed = reseal_chains(session, keyring_for_tests())

    assert sealed == len(_events(session))
    assert verify_chain(session, keyring_for_tests())[1] is None


def test_parallel_verification_finds_what_one_process_finds(committed_session):
    session = committed_session
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("parallel verification is PostgreSQL's (SQLite locks the file per transaction)")
    for _ in range(3):
        make_batch(session, quantity=2)
    session.commit()
    url = session.get_bind().url.render_as_string(hide_password=False)
    event = _events(session)[1]
    session.execute(update(CustodyEvent).where(CustodyEvent.id == event.id).values(part_count=7))
    session.commit()

    parallel = verify_chain(session, keyring_for_tests(), processes=2, url=url)

    assert parallel == verify_chain(session, keyring_for_tests())
    assert parallel[1].event_id == event.id


def test_two_organizations_append_without_waiting_for_each_other(committed_engine):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serializes every writer)")
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        first, second = make_batch(setup, quantity=1), make_batch(setup, quantity=1)
        factories = (first.factory_id, second.factory_id)
        setup.commit()
    holder, other = sessions(), sessions()
    holder.execute(select(ChainHead).where(ChainHead.organization_id == factories[0]).with_for_update())
    other.execute(text("SET LOCAL lock_timeout = '2s'"))
    done = threading.Event()

    def append_to_the_other_chain():
        other.execute(select(ChainHead).where(ChainHead.organization_id == factories[1]).with_for_update())
        done.set()

    worker = threading.Thread(target=append_to_the_other_chain)
    worker.start()
    worker.join(5)

    assert done.is_set()
    holder.rollback(), other.rollback()
    holder.close(), other.close()


@pytest.mark.parametrize("renamed", [0, 1], ids=["named by its commissioning and a sale", "named by its batch only"])
def test_a_part_renamed_under_intact_events_is_found(session, chain, renamed):
    # The events' rows and MACs are untouched: only the parts table says something else now.
    part = (
        chain[renamed]
        if renamed == 0
        else session.scalars(select(Part).where(Part.batch_id != chain[0].batch_id)).first()
    )
    session.execute(update(Part).where(Part.id == part.id).values(serial=part.serial[:-1] + "0"))
    session.expire_all()

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert problem is not None and problem.problem == "altered: the parts it names were changed"


def test_the_verifying_loop_reads_each_stored_event_as_its_mac_was_made(session, chain):
    ring = keyring_for_tests()
    rows = session.execute(select(*_CONTENT_COLUMNS).order_by(CustodyEvent.id)).all()

    assert rows and all(
        ring.mac_function(CHAIN_CONTEXT, row.key_id)(_stored_message(*row[3:])) == row.hash for row in rows
    )
    assert [_stored_message(*row[3:]) for row in rows] == [chain_message(row[3:]) for row in rows]


def _alter_price(session, events: list[CustodyEvent]) -> None:
    session.execute(update(CustodyEvent.__table__).where(CustodyEvent.id == events[1].id).values(price=1))


def _swap_numbers(session, events: list[CustodyEvent]) -> None:
    second, third = events[1], events[2]
    for event, number in ((second, 0), (third, second.sequence), (second, third.sequence)):
        session.execute(update(CustodyEvent.__table__).where(CustodyEvent.id == event.id).values(sequence=number))


def _delete_second(session, events: list[CustodyEvent]) -> None:
    for table in ("sales", "custody_event_parts"):
        session.execute(text(f"DELETE FROM {table} WHERE event_id = :id"), {"id": events[1].id})
    session.execute(text("DELETE FROM custody_events WHERE id = :id"), {"id": events[1].id})


def _replay_second(session, events: list[CustodyEvent]) -> None:
    # A copy of an intact event (its MAC still matches its content) under a new id, beside the original.
    columns = [column for column in CustodyEvent.__table__.c if column.name != "id"]
    copied = select(*columns).where(CustodyEvent.id == events[1].id)
    session.execute(CustodyEvent.__table__.insert().from_select([column.name for column in columns], copied))


@pytest.mark.parametrize("processes", [1, 2], ids=["one process", "two processes"])
@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        pytest.param(_alter_price, "altered: its content no longer matches its MAC", id="payload"),
        pytest.param(_swap_numbers, "does not follow its predecessor (removed or reordered)", id="order"),
        pytest.param(_delete_second, "missing (the next stored is #3)", id="deletion"),
        pytest.param(_replay_second, "repeated: another event has its number (inserted or replayed)", id="insertion"),
    ],
)
def test_one_tampered_event_is_found_in_one_process_and_in_parallel(committed_session, tamper, found, processes):
    session = committed_session
    if processes > 1 and session.get_bind().dialect.name != "postgresql":
        pytest.skip("parallel verification is PostgreSQL's (SQLite locks the file per transaction)")
    parts = list_batch_parts(session, make_batch(session, quantity=3))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts, dealer)
    for part in parts[:2]:
        record(session, staff, "sell", [part], price="100.00")
    session.commit()
    events = [event for event in _events(session) if event.organization_id == dealer.id]
    url = session.get_bind().url.render_as_string(hide_password=False)
    assert verify_chain(session, keyring_for_tests(), processes=processes, url=url)[1] is None
    tamper(session, events)
    session.commit()

    _checked, problem = verify_chain(session, keyring_for_tests(), processes=processes, url=url)

    assert problem is not None
    assert (problem.organization_id, problem.sequence, problem.problem) == (dealer.id, 2, found)
