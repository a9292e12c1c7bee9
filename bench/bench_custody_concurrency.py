"""Benchmark: custody events per second from 8 organizations at once, against 8 writers of one organization.

    python -m bench.bench_custody_concurrency postgresql+psycopg://.../milepost_bench [seconds]

Runs on a database filled by `python -m bench.generate`. Each writer is a thread with its own session that
records `inspect` events (10 parts each, through `record_event`, committed one by one) on parts its warehouse
holds. With a chain per organization, writers of different organizations never wait for each other's head
row; writers of one organization take turns on theirs (the second figure).
"""

from __future__ import annotations

import secrets
import sys
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Organization
from app.db import make_engine
from app.security import Role, User
from app.signing import KeyRing
from bench.generate import KEYS
from tests.traceability.factories import LIMITS
from traceability.custody import EventRequest, record_event
from traceability.models import Part

WRITERS = 8
PARTS_PER_EVENT = 10


def _staff(session: Session, organization_id: int) -> User:
    user = User(
        role=Role.WAREHOUSE_STAFF,
        organization_id=organization_id,
        password_hash="!",
        email=f"{secrets.token_hex(6)}@bench.test",
    )
    session.add(user)
    session.flush()
    return user


def _writers(engine, organization_ids: list[int]) -> list[tuple[int, list[dict]]]:
    """Return (staff user id, part references) per writer: its own parts of its organization."""
    plans = []
    with Session(engine) as session:
        taken: dict[int, int] = {}
        for organization_id in organization_ids:
            offset = taken.get(organization_id, 0)
            taken[organization_id] = offset + PARTS_PER_EVENT
            parts = session.execute(
                select(Part.gtin, Part.serial)
                .where(Part.holder_id == organization_id, Part.state == "in_stock")
                .order_by(Part.id)
                .offset(offset)
                .limit(PARTS_PER_EVENT)
            ).all()
            staff = _staff(session, organization_id)
            plans.append((staff.id, [{"gtin": gtin, "serial": serial} for gtin, serial in parts]))
        session.commit()
    return plans


def measure(engine, plans: list[tuple[int, list[dict]]], seconds: float) -> float:
    """Run one writer thread per plan for `seconds`; return the events per second they recorded together."""
    ring = KeyRing.from_spec(KEYS)
    counts = [0] * len(plans)
    deadline = time.perf_counter() + seconds

    def write(index: int, user_id: int, references: list[dict]) -> None:
        with Session(engine) as session:
            actor = session.get(User, user_id)
            while time.perf_counter() < deadline:
                record_event(session, ring, actor, EventRequest(type="inspect", parts=references), LIMITS, "bench")
                session.commit()
                counts[index] += 1

    threads = [threading.Thread(target=write, args=(index, *plan)) for index, plan in enumerate(plans)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def main(url: str, seconds: float = 20.0) -> None:
    engine = make_engine(url, pool_size=WRITERS + 2)
    with Session(engine) as session:
        warehouses = session.scalars(
            select(Organization.id).where(Organization.kind == "warehouse").order_by(Organization.id).limit(WRITERS)
        ).all()
    many = measure(engine, _writers(engine, list(warehouses)), seconds)
    one = measure(engine, _writers(engine, [warehouses[0]] * WRITERS), seconds)
    print(f"{WRITERS} writers, {WRITERS} organizations: {many:,.0f} custody events/s ({PARTS_PER_EVENT} parts each)")
    print(f"{WRITERS} writers, 1 organization:  {one:,.0f} custody events/s")
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], *(float(value) for value in sys.argv[2:3]))
