"""One-time codes texted to a phone: 6 digits, 5 minutes, 5 tries, used once, limited sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from app.db import make_sessionmaker, utcnow
from app.errors import CountedFailure, RateLimited
from app.one_time_codes import CodePurpose, PhoneCode, PhoneCodeSettings, prove_phone, send_phone_code
from app.sms import DevelopmentSender, read_outbox

RULES = PhoneCodeSettings(
    secret="test-secret", lifetime=timedelta(minutes=5), max_tries=5, sends_per_phone=5, sends_per_client=20
)
PHONE = "13912340000"


@pytest.fixture
def sender(tmp_path):
    return DevelopmentSender(tmp_path / "sms.log")


def last_code(sender) -> str:
    return read_outbox(sender.path)[-1]["text"].split("验证码 ")[1][:6]


def test_code_has_six_digits_and_proves_the_phone_once(session, sender):
    send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
    code = last_code(sender)

    proof = prove_phone(session, PHONE, CodePurpose.REGISTER, code, RULES)

    assert len(code) == 6 and code.isdigit()
    assert proof.phone == PHONE and proof.method == "sms_code"
    with pytest.raises(CountedFailure):
        prove_phone(session, PHONE, CodePurpose.REGISTER, code, RULES)


def test_code_proves_nothing_after_five_minutes(session, sender):
    record = send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
    session.execute(
        update(PhoneCode).where(PhoneCode.id == record.id).values(expires_at=utcnow() - timedelta(seconds=1))
    )

    with pytest.raises(CountedFailure) as caught:
        prove_phone(session, PHONE, CodePurpose.REGISTER, last_code(sender), RULES)

    assert caught.value.field == "code"


def test_code_dies_after_five_wrong_tries(session, sender):
    send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
    right = last_code(sender)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(CountedFailure) as caught:
            prove_phone(session, PHONE, CodePurpose.REGISTER, wrong, RULES)
        for write in caught.value.kept_writes:
            write(session)

    with pytest.raises(CountedFailure):
        prove_phone(session, PHONE, CodePurpose.REGISTER, right, RULES)


def test_code_is_for_one_purpose_and_one_number(session, sender):
    send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
    code = last_code(sender)

    with pytest.raises(CountedFailure):
        prove_phone(session, PHONE, CodePurpose.SIGN_IN, code, RULES)
    with pytest.raises(CountedFailure):
        prove_phone(session, "13912340001", CodePurpose.REGISTER, code, RULES)


def test_a_new_code_replaces_the_old_one(session, sender):
    send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
    first = last_code(sender)
    send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)

    with pytest.raises(CountedFailure):
        prove_phone(session, PHONE, CodePurpose.REGISTER, first, RULES)
    assert prove_phone(session, PHONE, CodePurpose.REGISTER, last_code(sender), RULES)


def test_sends_are_limited_per_number(session, sender):
    for number in range(5):
        send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, f"10.0.0.{number}", RULES)

    with pytest.raises(RateLimited):
        send_phone_code(session, sender, PHONE, CodePurpose.REGISTER, "10.0.1.1", RULES)
    assert len(read_outbox(sender.path)) == 5


def test_sends_are_limited_per_client_address(session, sender):
    for number in range(20):
        send_phone_code(session, sender, f"139123{number:05d}", CodePurpose.REGISTER, "10.0.0.1", RULES)

    with pytest.raises(RateLimited):
        send_phone_code(session, sender, "13812345678", CodePurpose.REGISTER, "10.0.0.1", RULES)


def test_a_right_code_used_by_two_requests_at_once_proves_the_phone_once(committed_engine, sender):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("a deterministic interleaving of two sessions needs PostgreSQL's row locks (SQLite serializes)")
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        send_phone_code(setup, sender, PHONE, CodePurpose.REGISTER, "10.0.0.1", RULES)
        setup.commit()
    code = last_code(sender)
    first, second = sessions(), sessions()
    outcomes = []
    first_connection = first.connection()

    @event.listens_for(first_connection, "before_cursor_execute")
    def _second_wins_in_between(connection, cursor, statement, parameters, context, executemany):
        # The first request has read the open code; the second uses it and commits before the first writes.
        if statement.startswith("UPDATE phone_codes") and not outcomes:
            outcomes.append(prove_phone(second, PHONE, CodePurpose.REGISTER, code, RULES).method)
            second.commit()

    try:
        with pytest.raises(CountedFailure):
            prove_phone(first, PHONE, CodePurpose.REGISTER, code, RULES)
    finally:
        event.remove(first_connection, "before_cursor_execute", _second_wins_in_between)
        first.close()
        second.close()
    assert outcomes == ["sms_code"]
