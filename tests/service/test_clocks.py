"""SLA clocks: pauses stop next response and resolution, never first response; policy changes keep pauses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.calendars import add_business_seconds
from service.clocks import (
    ClockKind,
    ClockStatus,
    change_target,
    clock_status,
    compute_due,
    elapsed_seconds,
    meet_clock,
    pause_clock,
    resume_clock,
)
from tests.service.factories import OFFICE, at

START = "2026-11-30 08:30"


@dataclass
class FakeClock:
    kind: str
    started_at: datetime
    target_minutes: int
    paused_seconds: float = 0.0
    paused_since: datetime | None = None
    due_at: datetime | None = None
    met_at: datetime | None = None
    breached_at: datetime | None = None


def start_clock(kind: str, minutes: int) -> FakeClock:
    clock = FakeClock(kind=kind, started_at=at(START), target_minutes=minutes)
    clock.due_at = compute_due(OFFICE, clock)
    return clock


def working_hours_after_start(hours: float) -> datetime:
    return add_business_seconds(OFFICE, at(START), hours * 3600)


def test_waiting_on_parts_moves_resolution_but_not_first_response() -> None:
    resolution = start_clock(ClockKind.RESOLUTION, 8 * 60)
    first = start_clock(ClockKind.FIRST_RESPONSE, 8 * 60)
    before = resolution.due_at

    for clock in (resolution, first):
        pause_clock(clock, working_hours_after_start(2))
    for clock in (resolution, first):
        resume_clock(OFFICE, clock, working_hours_after_start(5))

    assert resolution.due_at == add_business_seconds(OFFICE, before, 3 * 3600)
    assert first.due_at == before
    assert resolution.paused_seconds == 3 * 3600


def test_pause_over_the_weekend_costs_only_working_time() -> None:
    clock = start_clock(ClockKind.NEXT_RESPONSE, 60)

    pause_clock(clock, at("2026-12-04 17:00"))
    resume_clock(OFFICE, clock, at("2026-12-07 09:00"))

    assert clock.paused_seconds == 90 * 60


def test_policy_change_keeps_the_paused_hours() -> None:
    clock = start_clock(ClockKind.RESOLUTION, 8 * 60)
    pause_clock(clock, working_hours_after_start(2))
    resume_clock(OFFICE, clock, working_hours_after_start(5))

    change_target(OFFICE, clock, 4 * 60)

    assert clock.paused_seconds == 3 * 3600
    assert clock.due_at == working_hours_after_start(7)
    assert clock.started_at == at(START)


def test_paused_clock_has_no_due_and_says_paused() -> None:
    clock = start_clock(ClockKind.RESOLUTION, 60)

    pause_clock(clock, working_hours_after_start(0.5))

    assert clock.due_at is None
    assert clock_status(OFFICE, clock, working_hours_after_start(5)) == ClockStatus.PAUSED
    assert elapsed_seconds(OFFICE, clock, working_hours_after_start(5)) == 30 * 60


def test_status_warns_at_75_percent_and_breaches_at_100() -> None:
    clock = start_clock(ClockKind.FIRST_RESPONSE, 60)

    assert clock_status(OFFICE, clock, working_hours_after_start(0.5)) == ClockStatus.RUNNING
    assert clock_status(OFFICE, clock, working_hours_after_start(0.75)) == ClockStatus.WARNING
    assert clock_status(OFFICE, clock, working_hours_after_start(1)) == ClockStatus.BREACHED


def test_late_reply_meets_the_clock_and_the_breach_stays_recorded() -> None:
    clock = start_clock(ClockKind.FIRST_RESPONSE, 60)
    clock.breached_at = clock.due_at

    meet_clock(clock, working_hours_after_start(70 / 60))

    assert clock.met_at == working_hours_after_start(70 / 60)
    assert clock.breached_at == working_hours_after_start(1)
    assert clock_status(OFFICE, clock, working_hours_after_start(3)) == ClockStatus.MET_LATE


def test_late_reply_before_the_breach_job_ran_records_the_breach() -> None:
    clock = start_clock(ClockKind.FIRST_RESPONSE, 60)

    meet_clock(clock, working_hours_after_start(2))

    assert clock.breached_at == clock.due_at


def test_reply_in_time_meets_the_clock() -> None:
    clock = start_clock(ClockKind.FIRST_RESPONSE, 60)

    meet_clock(clock, working_hours_after_start(0.5))

    assert clock_status(OFFICE, clock, working_hours_after_start(3)) == ClockStatus.MET
    assert clock.breached_at is None
