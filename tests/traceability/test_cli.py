"""The `milepost parts commission` and `milepost chain verify` commands."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from tests.factories import make_organization
from tests.traceability.factories import make_batch, make_part_type
from traceability import chain as chain_module
from traceability import cli as cli_module
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


def _count_connections(monkeypatch) -> list[int]:
    """Make every chain past its first event big enough to verify in parallel, on a two-CPU machine; return
    the list of the connection counts `chain verify` then asks for."""
    monkeypatch.setattr(chain_module, "PARALLEL_FROM", 2)
    monkeypatch.setattr(chain_module.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setattr(chain_module.os, "cpu_count", lambda: 2)
    asked, verify = [], cli_module.verify_chain

    def counted(*arguments, processes, **keywords):
        asked.append(processes)
        return verify(*arguments, processes=processes, **keywords)

    monkeypatch.setattr(cli_module, "verify_chain", counted)
    return asked


@pytest.mark.parametrize("tampered", [False, True], ids=["intact", "hand-edited"])
def test_chain_verify_is_parallel_by_default_on_a_big_chain(request, database_url, monkeypatch, tampered):
    if not database_url.startswith("postgresql"):
        pytest.skip("parallel verification is PostgreSQL's (SQLite locks the file per transaction)")
    app, committed_session = request.getfixturevalue("app"), request.getfixturevalue("committed_session")
    batches = [make_batch(committed_session) for _ in range(3)]
    event = committed_session.scalar(select(CustodyEvent).where(CustodyEvent.batch_id == batches[1].id))
    if tampered:
        committed_session.execute(update(CustodyEvent).where(CustodyEvent.id == event.id).values(part_count=999))
    committed_session.commit()
    asked = _count_connections(monkeypatch)

    result = app.test_cli_runner().invoke(args=["chain", "verify"])

    assert asked == [2]
    if tampered:
        assert result.exit_code == 1 and f"event #{event.sequence}" in result.output and "altered" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "Chain intact: 3 events verified." in result.output


def test_chain_verify_uses_one_connection_below_the_threshold_or_when_told(app, session, monkeypatch):
    make_batch(session)
    asked = _count_connections(monkeypatch)
    monkeypatch.setattr(chain_module, "PARALLEL_FROM", 10)

    default = app.test_cli_runner().invoke(args=["chain", "verify"])
    told = app.test_cli_runner().invoke(args=["chain", "verify", "--jobs", "1"])

    assert asked == [1, 1]
    assert "Chain intact: 1 events verified." in default.output and told.exit_code == 0


def test_the_default_connections_are_the_cpus_up_to_a_cap(session, monkeypatch):
    many = chain_module.PARALLEL_FROM
    monkeypatch.setattr(chain_module.os, "sched_getaffinity", lambda _pid: set(range(64)), raising=False)
    monkeypatch.setattr(chain_module.os, "cpu_count", lambda: 64)
    parallel = session.get_bind().dialect.name == "postgresql"

    assert chain_module.default_jobs(session, many) == (chain_module.DEFAULT_JOBS if parallel else 1)
    assert chain_module.default_jobs(session, many - 1) == 1


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
