"""The custody chains: keyed per organization, verified in parallel, tamper found even by someone who can
edit rows and recompute hashes (issue 10 row 30)."""

from __future__ import annotations

import base64
import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy import event as sqlalchemy_event

from app.db import make_sessionmaker
from app.signing import KeyRing, generate_key_spec
from tests.conftest import TEST_KEYS
from tests.factories import make_organization
from tests.traceability.factories import keyring_for_tests, make_batch, record, stock_parts
from traceability import chain as chain_module
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


def _another_serial(serial: str) -> str:
    # The serials are random: one that ends in "0" already must change all the same.
    return serial[:-1] + ("1" if serial.endswith("0") else "0")


@pytest.mark.parametrize("renamed", [0, 1], ids=["named by its commissioning and a sale", "named by its batch only"])
def test_a_part_renamed_under_intact_events_is_found(session, chain, renamed):
    # The events' rows and MACs are untouched: only the parts table says something else now.
    part = (
        chain[renamed]
        if renamed == 0
        else session.scalars(select(Part).where(Part.batch_id != chain[0].batch_id)).first()
    )
    session.execute(update(Part).where(Part.id == part.id).values(serial=_another_serial(part.serial)))
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


# On PostgreSQL the database computes the MACs and digests; its report must be the Python path's.


def _needs_postgresql(session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the MACs are computed by the database on PostgreSQL (SQLite's are computed in Python)")


def _rename_a_sold_part(session, events: list[CustodyEvent]) -> None:
    part_id = session.scalar(text("SELECT part_id FROM custody_event_parts WHERE event_id = :id"), {"id": events[1].id})
    session.execute(update(Part).where(Part.id == part_id).values(serial=Part.serial + "0"))


def _unknown_key(session, events: list[CustodyEvent]) -> None:
    session.execute(update(CustodyEvent.__table__).where(CustodyEvent.id == events[1].id).values(key_id="Q"))


def _edit_time(session, events: list[CustodyEvent]) -> None:
    session.execute(
        update(CustodyEvent.__table__)
        .where(CustodyEvent.id == events[1].id)
        .values(occurred_at=events[1].occurred_at + timedelta(microseconds=1))
    )


def _edit_position(session, events: list[CustodyEvent]) -> None:
    session.execute(update(CustodyEvent.__table__).where(CustodyEvent.id == events[1].id).values(lat=34.750001))


@pytest.mark.parametrize("processes", [1, 2], ids=["one connection", "two connections"])
@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        pytest.param(_alter_price, "altered: its content no longer matches its MAC", id="payload"),
        pytest.param(_edit_time, "altered: its content no longer matches its MAC", id="time"),
        pytest.param(_edit_position, "altered: its content no longer matches its MAC", id="position"),
        pytest.param(_rename_a_sold_part, "altered: the parts it names were changed", id="parts"),
        pytest.param(_unknown_key, "sealed with key Q, which is not in the key ring", id="key"),
        pytest.param(_swap_numbers, "does not follow its predecessor (removed or reordered)", id="order"),
        pytest.param(_delete_second, "missing (the next stored is #3)", id="deletion"),
        pytest.param(_replay_second, "repeated: another event has its number (inserted or replayed)", id="insertion"),
    ],
)
def test_the_database_finds_each_tampering_as_the_python_path_does(committed_session, tamper, found, processes):
    session = committed_session
    _needs_postgresql(session)
    parts = list_batch_parts(session, make_batch(session, quantity=3))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts, dealer)
    for part in parts[:2]:
        record(session, staff, "sell", [part], price="100.00")
    session.commit()
    events = [event for event in _events(session) if event.organization_id == dealer.id]
    url = session.get_bind().url.render_as_string(hide_password=False)
    tamper(session, events)
    session.commit()

    in_database = verify_chain(session, keyring_for_tests(), processes=processes, url=url)
    in_python = verify_chain(session, keyring_for_tests(), processes=processes, url=url, in_database=False)

    assert in_database == in_python
    # A renamed part is also found in the factory's commissioning of its batch, which comes first.
    first = (in_database[1].sequence, in_database[1].problem)
    assert first == ((1, found) if tamper is _rename_a_sold_part else (2, found))
    assert in_database[1].organization_id == (parts[0].batch.factory_id if tamper is _rename_a_sold_part else dealer.id)


def test_the_database_vouches_for_every_intact_event_itself(session, chain, monkeypatch):
    # The database's text of every MAC is Python's: no intact event is sent back to be checked in Python.
    _needs_postgresql(session)
    checked_in_python = []
    monkeypatch.setattr(chain_module, "_content_problems", lambda *arguments: checked_in_python.append(arguments))

    assert verify_chain(session, keyring_for_tests()) == (len(_events(session)), None)
    assert checked_in_python == []


def test_a_renamed_batch_part_is_found_by_the_database(session, chain):
    _needs_postgresql(session)
    part = session.scalars(select(Part).where(Part.batch_id != chain[0].batch_id)).first()
    session.execute(update(Part).where(Part.id == part.id).values(serial=_another_serial(part.serial)))
    commission = session.scalar(
        select(CustodyEvent).where(CustodyEvent.event_type == "commission", CustodyEvent.batch_id == part.batch_id)
    )

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert (problem.event_id, problem.problem) == (commission.id, "altered: the parts it names were changed")


def test_a_read_only_transaction_verifies_in_python(session, chain):
    # A standby, or a read-only role: no temporary table for the keys, so Python computes the MACs.
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("read-only transactions are PostgreSQL's")
    event = _events(session)[1]
    session.execute(update(CustodyEvent.__table__).where(CustodyEvent.id == event.id).values(part_count=5))
    session.execute(text("SET LOCAL transaction_read_only = on"))

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert (problem.event_id, problem.problem) == (event.id, "altered: its content no longer matches its MAC")


@pytest.mark.parametrize("processes", [1, 2], ids=["one connection", "two connections"])
def test_the_key_is_in_no_statement_the_server_could_log(committed_session, processes):
    session = committed_session
    _needs_postgresql(session)
    make_batch(session, quantity=2)
    session.commit()
    url = session.get_bind().url.render_as_string(hide_password=False)
    ring = keyring_for_tests()
    secrets = [secret for _kid, *pads in ring.pads_for_database() for secret in pads]
    secrets += [ring._keys[kid].secret for kid, *_pads in ring.pads_for_database()]
    spellings = [spelling for secret in secrets for spelling in (secret.hex(), base64.b64encode(secret).decode())]
    sent = []

    def keep(_connection, _cursor, statement, parameters, _context, _many):
        sent.append(f"{statement} {parameters!r}")

    sqlalchemy_event.listen(Engine, "before_cursor_execute", keep)
    try:
        assert verify_chain(session, ring, processes=processes, url=url)[1] is None
    finally:
        sqlalchemy_event.remove(Engine, "before_cursor_execute", keep)

    assert any("outer_pad" in statement for statement in sent)
    assert not [statement for statement in sent if any(spelling in statement for spelling in spellings)]
    assert not [statement for statement in sent if any(repr(secret)[2:-1] in statement for secret in secrets)]


# The rows naming an event's parts are stored in their lines' order (the sort of a range's lines by the
# database then finds them presorted); rows in another order verify all the same.


def _largest_event(session) -> CustodyEvent:
    named = text("SELECT event_id FROM custody_event_parts GROUP BY event_id ORDER BY count(*) DESC, event_id LIMIT 1")
    return session.get(CustodyEvent, session.scalar(named))


def _store_lines_reversed(session, event: CustodyEvent) -> None:
    """Store the rows naming `event`'s parts again, in the reverse of their lines' order."""
    rows = session.execute(
        text(
            "SELECT l.part_id, l.occurred_at FROM custody_event_parts l JOIN parts p ON p.id = l.part_id"
            " WHERE l.event_id = :id ORDER BY p.gtin || '|' || p.serial COLLATE \"C\" DESC"
        ),
        {"id": event.id},
    ).all()
    session.execute(text("DELETE FROM custody_event_parts WHERE event_id = :id"), {"id": event.id})
    for part_id, occurred_at in rows:
        session.execute(
            text("INSERT INTO custody_event_parts (event_id, part_id, occurred_at) VALUES (:event, :part, :at)"),
            {"event": event.id, "part": part_id, "at": occurred_at},
        )


def _watch_python_checks(monkeypatch) -> list:
    """Record the events verify_chain checks again in Python (those the database did not vouch for)."""
    seen, python_check = [], chain_module._content_problems

    def in_python(*arguments):
        seen.append(arguments[2:4])
        return python_check(*arguments)

    monkeypatch.setattr(chain_module, "_content_problems", in_python)
    return seen


def _shipped_batch(session, quantity: int = 8) -> None:
    """A batch shipped to a dealer and received there: events naming `quantity` parts each, listed in the
    requests in the reverse of their lines' order."""
    parts = list_batch_parts(session, make_batch(session, quantity=quantity))[::-1]
    stock_parts(session, parts, make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62))


def test_the_parts_an_event_names_are_stored_in_their_lines_order(session):
    _needs_postgresql(session)
    _shipped_batch(session)
    event = _largest_event(session)
    stored = session.scalars(
        text(
            "SELECT p.gtin || '|' || p.serial FROM custody_event_parts l JOIN parts p ON p.id = l.part_id"
            " WHERE l.event_id = :id ORDER BY l.ctid"
        ),
        {"id": event.id},
    ).all()

    assert len(stored) == 8 and stored == sorted(stored)


@pytest.mark.parametrize("processes", [1, 2], ids=["one connection", "two connections"])
def test_lines_stored_in_another_order_are_vouched_for_by_the_database(committed_session, monkeypatch, processes):
    # Rows written by an older version, or moved by hand: the same parts, so the same intact chain.
    session = committed_session
    _needs_postgresql(session)
    parts = list_batch_parts(session, make_batch(session, quantity=4))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
    stock_parts(session, parts, dealer)
    event = _largest_event(session)
    _store_lines_reversed(session, event)
    session.commit()
    url = session.get_bind().url.render_as_string(hide_password=False)
    seen = _watch_python_checks(monkeypatch)

    in_database = verify_chain(session, keyring_for_tests(), processes=processes, url=url)

    assert in_database == (len(_events(session)), None)
    assert seen == []
    assert verify_chain(session, keyring_for_tests(), processes=processes, url=url, in_database=False) == in_database


def test_a_renamed_part_stored_out_of_order_is_found(session, chain):
    _needs_postgresql(session)
    event = _largest_event(session)
    _store_lines_reversed(session, event)
    part_id = session.scalar(text("SELECT part_id FROM custody_event_parts WHERE event_id = :id"), {"id": event.id})
    session.execute(
        update(Part).where(Part.id == part_id).values(serial=_another_serial(session.get(Part, part_id).serial))
    )
    session.expire_all()

    in_database = verify_chain(session, keyring_for_tests())
    in_python = verify_chain(session, keyring_for_tests(), in_database=False)

    assert in_database == in_python
    assert in_database[1].problem == "altered: the parts it names were changed"
