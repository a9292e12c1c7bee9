"""Every query on a public or frequent path is served by an index, on a generated year (PostgreSQL only).

Each case makes the real request against the generated data set and records the plan of every statement the
database runs for it (auto_explain, sent back to this connection as notices: so statements the application
sends on the driver cursor, and lazy loads, are caught too). With sequential scans priced out
(`enable_seqscan = off`), the planner still picks one only where no index can serve the query; an index scan
that reads a large table through a filter instead of an index condition is as bad. Small data makes the
planner prefer reading a table whole, so this asks what it would do at volume.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from app.db import make_sessionmaker
from app.security import Role, User
from bench.generate import BULK_TABLES, KEYS
from milepost.factory import create_app
from network.models import Shop
from reviews.models import Plaque
from tests import conftest
from tests.factories import auth_header, make_user, sign_in_client
from traceability.alerts import select_alert_scans
from traceability.models import Alert, Batch, CustodyEventPart, Installation, Part
from traceability.partitions import list_partitions, month_start, parent_table, partition_name

# Tables that grow with the year: what the generator loads in bulk (but plaques, one per shop), and the
# rate-limit attempts and activity log.
LARGE_TABLES = (frozenset(BULK_TABLES) - {"plaques"}) | {"attempts", "activity"}
INDEX_SCANS = ("Index Scan", "Index Only Scan")
MARKER = "/* plan fence */"
# Every plan sent back to this connection as a notice, with full reads priced out (for this transaction only).
RECORDING = (
    "LOAD 'auto_explain'",
    "SET LOCAL auto_explain.log_min_duration = 0",
    "SET LOCAL auto_explain.log_format = 'json'",
    "SET LOCAL auto_explain.log_level = 'notice'",
    "SET LOCAL client_min_messages = 'notice'",
    "SET LOCAL enable_seqscan = off",
    "SET LOCAL enable_mergejoin = off",
)


@dataclass
class Recorder:
    """The plans of the statements run on one connection while `recording` is on."""

    plans: list[dict] = field(default_factory=list)
    recording: bool = False

    def notice(self, diagnostic) -> None:
        message = diagnostic.message_primary or ""
        if self.recording and "plan:" in message:
            self.plans.append(json.loads(message.split("plan:", 1)[1]))


def full_reads(plan: dict, leading: dict[str, str], limited: bool = False) -> Iterator[str]:
    """Yield a description of every node that reads a large table whole (or through a filter, or through an
    index whose leading column it does not constrain: PostgreSQL then walks the whole index)."""
    node = plan["Node Type"]
    relation = parent_table(plan.get("Relation Name") or "")
    if node == "Bitmap Index Scan":
        relation = plan.get("Index Name", "").removeprefix("ix_").removeprefix("uq_")
    if relation in LARGE_TABLES or node == "Bitmap Index Scan":
        condition = plan.get("Index Cond", "")
        if node == "Seq Scan":
            yield f"Seq Scan on {relation}"
        elif node in (*INDEX_SCANS, "Bitmap Index Scan") and condition:
            column = leading.get(plan["Index Name"], "")
            if f"({column} " not in condition and f"({column})" not in condition:
                yield f"{node} using {plan['Index Name']} on {condition}: not its leading column {column}"
        elif node in INDEX_SCANS and ("Filter" in plan or not limited):
            yield f"{node} on {relation} using {plan['Index Name']} without an index condition"
    limited = limited or node == "Limit"
    for child in plan.get("Plans", ()):
        yield from full_reads(child, leading, limited)


def leading_columns(session: Session) -> dict[str, str]:
    """Return each index's first column."""
    rows = session.execute(
        text(
            """SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"""
        )
    )
    return dict(rows.all())


@pytest.fixture
def volume(volume_engine: Engine) -> Iterator[tuple[Connection, Recorder]]:
    """A connection to the generated data in a transaction rolled back afterwards, recording plans."""
    connection = volume_engine.connect()
    transaction = connection.begin()
    recorder = Recorder()
    driver = connection.connection.driver_connection
    driver.add_notice_handler(recorder.notice)
    for statement in RECORDING:
        connection.execute(text(statement))
    yield connection, recorder
    driver.remove_notice_handler(recorder.notice)
    transaction.rollback()
    connection.close()


@dataclass
class Volume:
    """The generated data as the cases need it: a client on it, sample rows, bearer headers."""

    client: object
    session: Session
    recorder: Recorder
    oem: dict

    def part(self, *conditions) -> Part:
        return self.session.scalars(select(Part).where(*conditions).order_by(Part.id).limit(1)).one()

    def scan_path(self, part: Part, tag: str | None = None) -> str:
        return f"/01/{part.gtin}/21/{part.serial}?c={tag or part.tag}"

    def fence(self) -> None:
        """Run a marker statement: PostgreSQL reports a statement's plan when its portal closes, at the next one."""
        self.session.execute(text(f"SELECT 1 {MARKER}"))

    def record(self, action: Callable[[], object]) -> object:
        """Run `action` recording the plans of what the database runs for it (and nothing before or after)."""
        self.fence()
        self.recorder.plans.clear()
        self.recorder.recording = True
        try:
            result = action()
            self.fence()
        finally:
            self.recorder.recording = False
        self.recorder.plans[:] = [plan for plan in self.recorder.plans if MARKER not in plan["Query Text"]]
        return result

    def get(self, path: str, **headers: str) -> object:
        """GET `path` recording the plans of what the database runs for it."""
        response = self.record(lambda: self.client.get(path, headers=headers))
        assert response.status_code < 500, response.get_data(as_text=True)[:500]
        return response


@pytest.fixture
def data(volume, tmp_path, monkeypatch) -> Volume:
    connection, recorder = volume
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    url = connection.engine.url.render_as_string(hide_password=False)
    app = create_app(conftest.test_settings(url, CODE_KEYS=KEYS), connection=connection)
    session = make_sessionmaker(connection)()
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN))
    return Volume(app.test_client(), session, recorder, auth_header(session, oem))


JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def _in_stock(data: Volume) -> Part:
    return data.part(Part.state == "in_stock", Part.recall_id.is_(None), Part.alert_signals == 0)


def _installed(data: Volume) -> Part:
    return data.part(Part.state == "installed", Part.recall_id.is_(None), Part.alert_signals == 0)


def _sold(data: Volume) -> Part:
    return data.part(Part.state == "sold", Part.recall_id.is_(None), Part.alert_signals == 0)


def _shop(data: Volume) -> Shop:
    return data.session.scalars(select(Shop).where(Shop.certification_tier == "certified").limit(1)).one()


def _plaque_path(data: Volume) -> str:
    shop = _shop(data)
    plaque = data.session.scalars(select(Plaque).where(Plaque.shop_id == shop.id)).one()
    return f"/plaque/{shop.code}?c={plaque.tag}"


def _vehicle_parts_path(data: Volume) -> str:
    vehicle_id = data.session.scalar(select(Installation.vehicle_id).where(Installation.removed_at.is_(None)).limit(1))
    return f"/api/v1/vehicles/{data.session.get(Vehicle, vehicle_id).vin}/parts"


def _staff_headers(data: Volume) -> dict:
    shop = _shop(data)
    staff = make_user(data.session, role=Role.SHOP_STAFF, organization_id=shop.organization_id)
    return auth_header(data.session, staff)


def _unknown_code_alert_page(data: Volume) -> object:
    alert = data.session.scalars(
        select(Alert).where(Alert.part_id.is_(None), Alert.gtin.is_not(None)).order_by(Alert.id).limit(1)
    ).one()
    sign_in_client(data.client, data.session.scalar(select(User).where(User.role == Role.OEM_ADMIN)))
    return data.get(f"/oem/alerts/{alert.id}", **HTML)


CASES: dict[str, Callable[[Volume], object]] = {
    "scan json genuine": lambda d: d.get(d.scan_path(_in_stock(d)), **JSON),
    "scan html genuine": lambda d: d.get(d.scan_path(_sold(d)), **HTML),
    "scan json installed": lambda d: d.get(d.scan_path(_installed(d)), **JSON),
    "scan html installed": lambda d: d.get(d.scan_path(_installed(d)), **HTML),
    "scan html recalled": lambda d: d.get(d.scan_path(d.part(Part.recall_id.is_not(None))), **HTML),
    "scan html void": lambda d: d.get(d.scan_path(d.part(Part.state == "destroyed")), **HTML),
    "scan html suspect": lambda d: d.get(d.scan_path(d.part(Part.alert_signals > 0, Part.state == "sold")), **HTML),
    "scan json unknown serial": lambda d: d.get(f"/01/{_in_stock(d).gtin}/21/ZZZZZZZZZZZZ?c=A0000000000000000", **JSON),
    "scan html unknown serial": lambda d: d.get(f"/01/{_in_stock(d).gtin}/21/ZZZZZZZZZZZZ?c=A0000000000000000", **HTML),
    "scan json bad tag": lambda d: d.get(d.scan_path(_in_stock(d), "A0000000000000000"), **JSON),
    "scan html bad tag": lambda d: d.get(d.scan_path(_in_stock(d), "A0000000000000000"), **HTML),
    "scan html malformed": lambda d: d.get("/01/123/21/%00?c=x", **HTML),
    "part record": lambda d: d.get(f"/api/v1/parts/{_installed(d).gtin}/{_installed(d).serial}", **d.oem),
    "vehicle parts": lambda d: d.get(_vehicle_parts_path(d), **d.oem),
    "alerts list": lambda d: d.get("/api/v1/alerts", **d.oem),
    "alert page unknown code": _unknown_code_alert_page,
    "alerts list open": lambda d: d.get("/api/v1/alerts?status=open&cause=far_from_chain", **d.oem),
    "scan stats": lambda d: d.get(
        f"/api/v1/scans/stats?since={date.today() - timedelta(days=30)}T00:00:00%2B08:00", **d.oem
    ),
    "epcis export": lambda d: d.get("/api/v1/epcis/events", **d.oem),
    "epcis export later page": lambda d: d.get("/api/v1/epcis/events?page=3", **d.oem),
    "shop search nearest": lambda d: d.get("/api/v1/shops?lat=34.75&lon=113.62&k=5"),
    "shops ahead": lambda d: d.get("/api/v1/shops/ahead?lat=34.5&lon=113.8&highway=G4&direction=increasing"),
    "shop page": lambda d: d.get(f"/api/v1/shops/{_shop(d).code}"),
    "shop score": lambda d: d.get(f"/api/v1/shops/{_shop(d).code}/score"),
    "plaque page": lambda d: d.get(_plaque_path(d), **HTML),
    "coverage": lambda d: d.get("/api/v1/coverage", **d.oem),
    "booking slots": lambda d: d.get(f"/api/v1/shops/{_shop(d).code}/slots?date={date.today() + timedelta(days=3)}"),
    "shop bookings list": lambda d: d.get("/api/v1/bookings", **_staff_headers(d)),
}


@pytest.mark.parametrize("case", CASES)
def test_path_reads_no_large_table_whole(data: Volume, case: str):
    CASES[case](data)

    leading = leading_columns(data.session)
    problems = [
        f"{problem}\n    {plan['Query Text'][:400]}"
        for plan in data.recorder.plans
        for problem in full_reads(plan["Plan"], leading)
    ]

    assert data.recorder.plans, "no statement was recorded"
    assert problems == []


def test_html_scan_adds_only_what_the_page_shows(data: Volume):
    part = _sold(data)
    data.get(data.scan_path(part), **JSON)
    json_statements = len(data.recorder.plans)
    other = data.part(Part.state == "sold", Part.id > part.id, Part.recall_id.is_(None), Part.alert_signals == 0)

    data.get(data.scan_path(other), **HTML)

    # The kept sale-price range and the keys of the part's custody events come with the scan's read of the part,
    # and the events by those keys with the scan's write: the page runs the JSON scan's statements, no more.
    assert len(data.recorder.plans) <= json_statements


def _partitions_read(data: Volume, table: str) -> set[str]:
    """Return the partitions of `table` that the recorded plans read."""

    def walk(plan: dict) -> Iterator[str]:
        name = plan.get("Relation Name") or ""
        if name != table and parent_table(name) == table:
            yield name
        for child in plan.get("Plans", ()):
            yield from walk(child)

    return {name for plan in data.recorder.plans for name in walk(plan["Plan"])}


def _months(first: date, last: date) -> Iterator[str]:
    month = date(first.year, first.month, 1)
    while month <= last:
        yield f"{month:%Y_%m}"
        month = (month + timedelta(days=32)).replace(day=1)


def test_query_by_time_reads_only_its_months(data: Volume):
    since, until = date.today() - timedelta(days=40), date.today() - timedelta(days=10)

    data.get(f"/api/v1/epcis/events?since={since}T00:00:00%2B00:00&until={until}T00:00:00%2B00:00", **data.oem)

    # Both bounds inside partitions made for them: the other months and the default partition are pruned.
    expected = {f"custody_events_p{month}" for month in _months(since, until - timedelta(days=1))}
    assert _partitions_read(data, "custody_events") == expected


def _branches(plan: dict, table: str) -> Iterator[tuple[str, set[str]]]:
    """Yield each UNION branch below `plan` (an Append whose children are not partitions of `table`) as its plan's
    text and the partitions of `table` it reads."""
    children = plan.get("Plans", ())
    if plan["Node Type"] == "Append" and not any(_partition_of(child, table) for child in children):
        for child in children:
            yield json.dumps(child), {name for name in _walk_partitions(child, table)}
        return
    for child in children:
        yield from _branches(child, table)


def _partition_of(plan: dict, table: str) -> bool:
    name = plan.get("Relation Name") or ""
    return name != table and parent_table(name) == table


def _walk_partitions(plan: dict, table: str) -> Iterator[str]:
    if _partition_of(plan, table):
        yield plan["Relation Name"]
    for child in plan.get("Plans", ()):
        yield from _walk_partitions(child, table)


def _scan_page_journey(data: Volume, part: Part) -> dict[str, set[str]]:
    """Scan `part`'s HTML page; return the partitions of custody_events that the journey's two branches read."""
    data.get(data.scan_path(part), **HTML)

    journey = [plan for plan in data.recorder.plans if "custody_events" in plan["Query Text"]]
    assert len(journey) == 1
    branches = dict(_branches(journey[0]["Plan"], "custody_events"))
    return {
        "by keys": next(read for text_, read in branches.items() if "batch_id" not in text_),
        "commission": next(read for text_, read in branches.items() if "batch_id" in text_),
    }


def _sold_part(data: Volume, newest_batch: bool) -> Part:
    produced = Batch.production_date.desc() if newest_batch else Batch.production_date
    return data.session.scalars(
        select(Part)
        .join(Batch, Batch.id == Part.batch_id)
        .where(Part.state == "sold", Part.recall_id.is_(None), Part.alert_signals == 0)
        .order_by(produced, Part.id)
        .limit(1)
    ).one()


def test_scan_page_reads_only_the_months_of_the_parts_events(data: Volume):
    part = _sold_part(data, newest_batch=True)
    months = data.session.scalars(select(CustodyEventPart.occurred_at).where(CustodyEventPart.part_id == part.id)).all()
    named = {partition_name("custody_events", month_start(month)) for month in months}

    read = _scan_page_journey(data, part)

    # The events naming the part are read in their months' partitions only (custody_event_parts carries the
    # month).
    assert named and read["by keys"] == named


def test_scan_page_reads_the_commissioning_in_its_month_only(data: Volume):
    part = _sold_part(data, newest_batch=False)
    commissioned = partition_name("custody_events", month_start(part.batch.commissioned_at))
    months_since = [
        name
        for name in list_partitions(data.session, "custody_events")
        if not name.endswith("_default") and name >= commissioned
    ]

    read = _scan_page_journey(data, part)

    # The batch keeps its commissioning's occurred_at, so of the months since (several for a batch this old)
    # the planner keeps one partition.
    assert len(months_since) > 1
    assert read["commission"] == {commissioned}


def test_query_by_part_probes_every_months_index(data: Volume):
    alert = data.session.scalars(select(Alert).where(Alert.part_id.is_not(None)).limit(1)).one()
    months = set(list_partitions(data.session, "scans"))

    data.record(lambda: data.session.scalars(select_alert_scans(alert).limit(100)).all())

    # A part's scans (the alert page) carry no time bound: one index probe per month, by design
    # (docs/scale.md, "Partitions", measures the cost).
    assert _partitions_read(data, "scans") == months
    # On the months still empty (ahead, and the default partition) any plan is as cheap; on the others, an index
    # condition on the part.
    empty = {name for name in months if data.session.scalar(text(f"SELECT count(*) FROM {name}")) == 0}
    leading = leading_columns(data.session)
    problems = [problem for plan in data.recorder.plans for problem in full_reads(plan["Plan"], leading)]
    assert [problem for problem in problems if not any(f" {name}_" in problem for name in empty)] == []
