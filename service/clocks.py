"""SLA clock arithmetic: due instants inside a business calendar, pauses, met and breached, policy changes.

Pure functions over anything shaped like a clock (the `SlaClock` model is one). A clock keeps only facts that do
not change with time (started, target, paused seconds so far, paused since, met, breached); its status is computed
on read. Paused time is counted in the calendar's working seconds, so a pause over a weekend costs nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from service.calendars import BusinessCalendar, add_business_seconds, business_seconds_between


class ClockKind(StrEnum):
    """The three clocks of a request (Zammad's model)."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


# Waiting on the customer, on parts or on a third party stops these; the first response is owed regardless.
PAUSABLE = frozenset({ClockKind.NEXT_RESPONSE, ClockKind.RESOLUTION})


class ClockStatus(StrEnum):
    """What a clock says now."""

    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    MET_LATE = "met_late"


class Clock(Protocol):
    kind: str
    started_at: datetime
    target_minutes: int
    paused_seconds: float
    paused_since: datetime | None
    due_at: datetime | None
    met_at: datetime | None
    breached_at: datetime | None


def compute_due(calendar: BusinessCalendar, clock: Clock) -> datetime | None:
    """Return when the clock falls due: its target plus the time paused so far, inside the calendar."""
    if clock.paused_since is not None:
        return None
    return add_business_seconds(calendar, clock.started_at, clock.target_minutes * 60 + clock.paused_seconds)


def pause_clock(clock: Clock, at: datetime) -> None:
    """Stop a pausable clock at `at` (first response never pauses; a met clock stays met)."""
    if clock.kind not in PAUSABLE or clock.paused_since is not None or clock.met_at is not None:
        return
    clock.paused_since = at
    clock.due_at = None


def resume_clock(calendar: BusinessCalendar, clock: Clock, at: datetime) -> None:
    """Restart a paused clock, adding the working seconds it was paused to its total."""
    if clock.paused_since is None:
        return
    clock.paused_seconds = float(clock.paused_seconds) + business_seconds_between(calendar, clock.paused_since, at)
    clock.paused_since = None
    clock.due_at = compute_due(calendar, clock)


def change_target(calendar: BusinessCalendar, clock: Clock, target_minutes: int) -> None:
    """Apply a new policy's target; the start and the time already paused are kept (GLPI #15605)."""
    clock.target_minutes = target_minutes
    if clock.met_at is None:
        clock.due_at = compute_due(calendar, clock)


def elapsed_seconds(calendar: BusinessCalendar, clock: Clock, now: datetime) -> float:
    """Return the working seconds the clock has run, pauses excluded."""
    end = clock.met_at or now
    paused = float(clock.paused_seconds)
    if clock.paused_since is not None and clock.met_at is None:
        paused += business_seconds_between(calendar, clock.paused_since, end)
    return max(0.0, business_seconds_between(calendar, clock.started_at, end) - paused)


def used_fraction(calendar: BusinessCalendar, clock: Clock, now: datetime) -> float:
    """Return how much of the target has been used (1.0 = due now)."""
    if clock.target_minutes <= 0:
        return 1.0
    return elapsed_seconds(calendar, clock, now) / (clock.target_minutes * 60)


def clock_status(calendar: BusinessCalendar, clock: Clock, now: datetime, warn_fraction: float = 0.75) -> ClockStatus:
    """Return the clock's status now."""
    if clock.met_at is not None:
        late = clock.breached_at is not None or (clock.due_at is not None and clock.met_at > clock.due_at)
        return ClockStatus.MET_LATE if late else ClockStatus.MET
    if clock.breached_at is not None:
        return ClockStatus.BREACHED
    if clock.paused_since is not None:
        return ClockStatus.PAUSED
    fraction = used_fraction(calendar, clock, now)
    if fraction >= 1:
        return ClockStatus.BREACHED
    if fraction >= warn_fraction:
        return ClockStatus.WARNING
    return ClockStatus.RUNNING


def meet_clock(clock: Clock, at: datetime) -> None:
    """Record that the clock's obligation was met at `at`; a breach already recorded stays recorded."""
    if clock.met_at is None:
        clock.met_at = at
        if clock.due_at is not None and at > clock.due_at and clock.breached_at is None:
            clock.breached_at = clock.due_at
