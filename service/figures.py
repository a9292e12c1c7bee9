"""The OEM's figures: backlog, SLA attainment, first-response times, deflection rate and satisfaction, by queue,
agent, category and channel."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.clocks import ClockKind
from service.models import OPEN_STATUSES, RequestStatus, ServiceRequest, Survey

DIMENSIONS = ("queue", "agent", "category", "channel")


@dataclass
class Figures:
    """The figures of one group of requests."""

    requests: int = 0
    backlog: int = 0
    deflected: int = 0
    clocks_due: int = 0
    clocks_met_in_time: int = 0
    first_response_minutes: list[float] = field(default_factory=list)
    survey_answers: int = 0
    top_two: int = 0

    @property
    def sla_attainment(self) -> float | None:
        """Share of ended or breached first-response and resolution clocks met in time."""
        return self.clocks_met_in_time / self.clocks_due if self.clocks_due else None

    @property
    def median_first_response(self) -> float | None:
        """Median wall-clock minutes from opening to the first person's reply."""
        return statistics.median(self.first_response_minutes) if self.first_response_minutes else None

    @property
    def deflection_rate(self) -> float | None:
        """Share of requests the knowledge base solved without a person."""
        return self.deflected / self.requests if self.requests else None

    @property
    def satisfaction(self) -> float | None:
        """CSAT: the share of survey answers with 4 or 5 stars (top-2-box)."""
        return self.top_two / self.survey_answers if self.survey_answers else None


def _keys(request: ServiceRequest) -> dict[str, str]:
    agent = request.assignee
    return {
        "queue": request.queue.code,
        "agent": (agent.display_name or agent.login) if agent is not None else "-",
        "category": request.category,
        "channel": request.channel,
    }


def compute_figures(session: Session, since: datetime, now: datetime) -> dict[str, dict[str, Figures]]:
    """Return the figures per dimension and group for requests opened since `since`."""
    table: dict[str, dict[str, Figures]] = {dimension: defaultdict(Figures) for dimension in DIMENSIONS}
    requests = session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.created_at >= since, ServiceRequest.status != RequestStatus.MERGED)
        .options(selectinload(ServiceRequest.clocks), selectinload(ServiceRequest.queue))
    ).all()
    surveys = defaultdict(list)
    for survey in session.scalars(select(Survey).where(Survey.answered_at.is_not(None), Survey.sent_at >= since)):
        surveys[survey.request_id].append(survey)
    for request in requests:
        keys = _keys(request)
        for dimension, key in keys.items():
            group = table[dimension][key]
            group.requests += 1
            group.backlog += request.status in OPEN_STATUSES
            group.deflected += request.status == RequestStatus.DEFLECTED
            if request.first_responded_at is not None:
                minutes = (request.first_responded_at - request.created_at).total_seconds() / 60
                group.first_response_minutes.append(minutes)
            for clock in request.clocks:
                if clock.kind == ClockKind.NEXT_RESPONSE or request.status == RequestStatus.DEFLECTED:
                    continue
                ended = clock.met_at is not None or clock.breached_at is not None
                if ended:
                    group.clocks_due += 1
                    group.clocks_met_in_time += clock.breached_at is None
            for survey in surveys.get(request.id, []):
                group.survey_answers += 1
                group.top_two += (survey.stars or 0) >= 4
    return {dimension: dict(sorted(groups.items())) for dimension, groups in table.items()}
