"""The `milepost parts commission` and `milepost chain verify` commands."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from tests.factories import make_organization
from tests.traceability.factories import make_batch, make_part_type
from traceability.models import CustodyEvent, Part


def test_parts_commission_writes_parts_with_progress(app, session):
    part_type = make_part_type(session)
    make_organization(session, kind="factory", code="FAC-T1")

    result = app.test_cli_runner().invoke(
        args=[
            "parts",
            "commission",
            "--part-number",
            part_type.part_number,
            "--factory",
            "FAC-T1",
            "--quantity",
            "120",
            "--line",
            "L2",
            "--inspector",
            "王工",
        ]
    )

    assert result.exit_code == 0, result.output
    assert "120 parts commissioned" in result.output
    assert session.scalar(select(func.count()).select_from(Part).where(Part.part_type_id == part_type.id)) == 120


def test_parts_commission_unknown_factory_exits_non_zero(app, session):
    part_type = make_part_type(session)

    result = app.test_cli_runner().invoke(
        args=["parts", "commission", "--part-number", part_type.part_number, "--factory", "NOPE"]
        + ["--quantity", "5", "--line", "L", "--inspector", "X"]
    )

    assert result.exit_code == 2
    assert "factory" in result.output


def test_chain_verify_passes_on_untouched_chain(app, session):
    make_batch(session)
    make_batch(session)

    result = app.test_cli_runner().invoke(args=["chain", "verify"])

    assert result.exit_code == 0, result.output
    assert "Chain intact: 2 events verified." in result.output


def test_chain_verify_in_parallel_counts_every_committed_event(request, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("parallel verification is PostgreSQL's (SQLite locks the file per transaction)")
    app, committed_session = request.getfixturevalue("app"), request.getfixturevalue("committed_session")
    for _ in range(3):
        make_batch(committed_session)
    committed_session.commit()

    result = app.test_cli_runner().invoke(args=["chain", "verify", "--jobs", "2"])

    assert result.exit_code == 0, result.output
    assert "Chain intact: 3 events verified." in result.output


def test_chain_verify_names_hand_edited_event(app, session):
    make_batch(session)
    second = make_batch(session)
    make_batch(session)
    event = session.scalar(select(CustodyEvent).where(CustodyEvent.batch_id == second.id))
    session.execute(update(CustodyEvent).where(CustodyEvent.id == event.id).values(part_count=999))
    session.flush()

    result = app.test_cli_runner().invoke(args=["chain", "verify"])

    assert result.exit_code == 1
    assert f"event #{event.sequence}" in result.output
    assert "altered" in result.output
