"""The network's jobs: roadside rounds and escalation, booking requests nobody answered, and the coverage
roll-up the OEM dashboard reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.jobs import JobContext, job
from network import booking, rounds
from network.caches import coverage_samples, route_network, shop_index
from network.coverage import keep_coverage_rollup, measure_coverage
from network.models import AssistanceRequest
from network.rounds import ADVANCE_JOB
from network.search import ShopIndex
from network.settings import network_settings


def _index(context: JobContext) -> ShopIndex:
    # The worker passes its app's extensions, so the index is built once per worker process and kept.
    extensions: Any = context.extras if isinstance(context.extras, dict) else {}
    return shop_index(context.session, extensions, network_settings(context.settings))


@job("network.assistance_rounds", every=timedelta(minutes=1))
def assistance_rounds(context: JobContext) -> dict:
    """Widen or escalate every roadside request whose round timed out."""
    settings = network_settings(context.settings)
    return {"advanced": rounds.advance_requests(context.session, _index(context), settings, context.now)}


@job(ADVANCE_JOB)
def advance_assistance_request(context: JobContext) -> dict:
    """Advance one roadside request at its round's deadline (scheduled when the round starts)."""
    request = context.session.get(AssistanceRequest, int(context.payload.get("request_id", 0)))
    if request is None:
        return {"advanced": False}
    settings = network_settings(context.settings)
    return {"advanced": rounds.advance_request(context.session, request, _index(context), settings, context.now)}


@job("network.expire_booking_requests", every=timedelta(minutes=5))
def expire_booking_requests(context: JobContext) -> dict:
    """Expire booking requests no shop answered before their start, freeing their bays."""
    zone = network_settings(context.settings).zone
    return {"expired": booking.expire_unanswered(context.session, context.now, zone)}


COVERAGE_JOB = "network.refresh_coverage"


@job(COVERAGE_JOB, every=timedelta(minutes=15))
def refresh_coverage(context: JobContext) -> dict:
    """Recompute the dashboard's coverage percent (certified shops within the default radius) and keep it."""
    extensions: Any = context.extras if isinstance(context.extras, dict) else {}
    settings = network_settings(context.settings)
    # The computation reads for seconds (longer under load): outside SQLite's write lock, which only the short
    # write of the figures takes.
    with context.reading():
        samples = coverage_samples(context.session, extensions, settings)
        routes = route_network(context.session, extensions, settings)
        report = measure_coverage(context.session, samples, routes, settings.coverage_radius_km)
    rollup = keep_coverage_rollup(context.session, report, settings.coverage_radius_km, context.now)
    return {"percent": float(rollup.percent), "radius_km": float(rollup.radius_km)}
