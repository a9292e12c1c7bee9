"""Reading never writes: every GET route and page, as every role, leaves every table as it was.

The exceptions are the requests whose purpose is to record: opening a part's code stores a scan (and keeps
the part's scan state and its alerts), a plaque scan is counted. They are crawled too, and may write only that.

The crawl asks for Chinese, and every page it renders is also held to tests/test_zh_pages.py's rule (no English
word left over): one rendering of each page per role serves both checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Customer, Organization, Vehicle
from app.db import SESSIONMAKER_KEY, Base
from app.jobs import JobRun
from app.security import Role, TokenKind, User, issue_token
from app.web.context import SIGN_IN_KEY
from community.models import Answer, Question, Report
from knowledge.models import Article
from leads.models import Lead
from network.demo import DEMO_SHOP
from network.models import AssistanceRequest, Booking
from tests.test_zh_pages import english_words, is_page_rule
from traceability.models import Batch, Part, PartType, Recall

RECORDING_RULES = {"/01/<gtin>/21/<path:serial>", "/plaque/<shop_code>"}
RECORDED_TABLES = {"scans", "parts", "alerts", "attempts", "plaque_scans"}
ROLES = [None, *Role]


def _fingerprint(session: Session) -> dict[str, str]:
    """Return a digest of every table's rows."""
    digests = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def _first(session: Session, statement) -> object:
    value = session.scalar(statement.limit(1))
    return value if value is not None else 1


def _path_values(session: Session) -> dict[str, object]:
    part = session.scalar(select(Part).order_by(Part.id).limit(1))
    return {
        "shop": DEMO_SHOP,
        "organization": _first(session, select(Organization.code).order_by(Organization.id)),
        "recall": _first(session, select(Recall.code).order_by(Recall.id)),
        "vin": _first(session, select(Vehicle.vin).order_by(Vehicle.id)),
        "customer_id": _first(session, select(Customer.id).order_by(Customer.id)),
        "part_number": _first(session, select(PartType.part_number).order_by(PartType.id)),
        "batch_id": _first(session, select(Batch.id).order_by(Batch.id)),
        "gtin": part.gtin if part else "00000000000000",
        "serial": part.serial if part else "X",
        "request_id": _first(session, select(AssistanceRequest.id).order_by(AssistanceRequest.id)),
        "booking_id": _first(session, select(Booking.id).order_by(Booking.id)),
        "run_id": _first(session, select(JobRun.id).order_by(JobRun.id)),
        "slug": _first(session, select(Article.slug).order_by(Article.id)),
        "question_id": _first(session, select(Question.id).order_by(Question.id)),
        "answer_id": _first(session, select(Answer.id).order_by(Answer.id)),
        "kind": "question",
        "post_id": _first(session, select(Question.id).order_by(Question.id)),
        "report_id": _first(session, select(Report.id).order_by(Report.id)),
        "lead_id": _first(session, select(Lead.id).order_by(Lead.id)),
    }


def _fill(rule, values: dict[str, object]) -> str | None:
    """Return a concrete URL for `rule`, or None for static files."""
    if "filename" in rule.arguments:
        return None
    url = rule.rule
    for argument in rule.arguments:
        if argument == "code":
            key = "recall" if "/recalls/" in url else "organization" if "/organizations/" in url else "shop"
        elif argument == "shop_code":
            key = "shop"
        else:
            key = argument
        url = url.replace(f"<{argument}>", str(values.get(key, "1")))
        for converter in ("int", "path"):
            url = url.replace(f"<{converter}:{argument}>", str(values.get(key, "1")))
    return url


def _demo_user(session: Session, role: Role) -> User:
    if role == Role.SHOP_STAFF:
        shop = session.scalar(select(Organization.id).where(Organization.code == DEMO_SHOP))
        user = session.scalar(select(User).where(User.role == role, User.organization_id == shop).limit(1))
        if user is not None:
            return user
    user = session.scalar(select(User).where(User.role == role).order_by(User.id).limit(1))
    assert user is not None, f"the demo has no {role} user"
    return user


@pytest.fixture
def crawl(demo_app: Flask) -> Iterator:
    make_session = demo_app.extensions[SESSIONMAKER_KEY]

    statuses: dict[str, int] = {}
    english: dict[str, list[str]] = {}

    def run(role: Role | None, rules: list) -> tuple[dict[str, str], dict[str, str], list[str]]:
        """GET each of `rules` as `role`; return the fingerprints before and after, and the server errors.
        `run.english` is left holding each Chinese page's English words (for tests/test_zh_pages.py's rule)."""
        client = demo_app.test_client()
        headers = {}
        with make_session() as session:
            values = _path_values(session)
            if role is not None:
                user = _demo_user(session, role)
                token, _ = issue_token(session, user, timedelta(hours=1))
                # Pages are crawled signed in through the browser's cookie, as the role sees them.
                browser_token, _ = issue_token(session, user, timedelta(hours=1), kind=TokenKind.BROWSER)
                session.commit()
                headers = {"Authorization": f"Bearer {token}"}
                with client.session_transaction() as cookie:
                    cookie[SIGN_IN_KEY] = browser_token
        with make_session() as session:
            before = _fingerprint(session)
        failures = []
        statuses.clear()
        english.clear()
        for rule in rules:
            url = _fill(rule, values)
            if url is None:
                continue
            api = url.startswith("/api/")
            response = client.get(url, headers=headers if api else {"Accept-Language": "zh-CN"})
            statuses[url] = response.status_code
            if response.status_code >= 500:
                failures.append(f"{url}: {response.status_code}")
            elif is_page_rule(rule) and response.mimetype == "text/html" and not 300 <= response.status_code < 400:
                words = english_words(response.get_data(as_text=True))
                if words:
                    english[url] = sorted(words)
        with make_session() as session:
            after = _fingerprint(session)
        return before, after, failures

    run.statuses = statuses  # type: ignore[attr-defined]
    run.english = english  # type: ignore[attr-defined]
    return run


def _get_rules(app: Flask, recording: bool) -> list:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and (rule.rule in RECORDING_RULES) == recording
    ]


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
def test_get_routes_and_pages_write_nothing_and_every_chinese_page_is_chinese(demo_app, crawl, role):
    before, after, failures = crawl(role, _get_rules(demo_app, recording=False))

    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == []
    assert failures == []
    assert crawl.english == {}, "English words left on Chinese pages"
    # Pages were read as the role (signed in), not bounced to the sign-in form.
    if role in (Role.SHOP_STAFF, Role.DEALER_STAFF, Role.WAREHOUSE_STAFF, Role.FACTORY_STAFF):
        assert crawl.statuses["/counter"] == 200
    if role == Role.FACTORY_STAFF:
        assert crawl.statuses["/factory/batches"] == 200


@pytest.mark.parametrize("role", [None, Role.DRIVER, Role.SHOP_STAFF], ids=lambda role: role or "anonymous")
def test_recording_routes_write_only_what_they_record(demo_app, crawl, role):
    before, after, failures = crawl(role, _get_rules(demo_app, recording=True))

    changed = {name for name in before if before[name] != after[name]}
    assert changed <= RECORDED_TABLES
    assert failures == []


def test_fingerprint_sees_a_changed_row(session):
    from app.security import Attempt

    before = _fingerprint(session)
    session.add(Attempt(bucket="crawl", key="x"))
    session.flush()

    assert {name for name, digest in _fingerprint(session).items() if before[name] != digest} == {"attempts"}
