"""The OEM's coverage page: routes coloured covered/uncovered, gaps, recommended sites, capacity."""

from __future__ import annotations

from flask import render_template, request
from werkzeug.wrappers import Response

from app.errors import InvalidInput
from app.security import Role
from app.web.context import db_session, report_session
from network import assistance, coverage, rendering
from network.models import AssistanceStatus
from network.pages import page_actor, pages
from network.pages.driver import map_config
from network.web import coverage_samples, current_settings, route_network


@pages.route("/coverage")
def coverage_page():
    """Show coverage within a radius of certified (or all active) shops, with gaps and recommended sites."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    session = report_session()
    try:
        radius = float(request.args.get("radius_km") or current_settings().coverage_radius_km)
    except ValueError:
        raise InvalidInput("radius_km is a number of km", field="radius_km") from None
    if not 0 < radius <= 500:
        raise InvalidInput("radius_km is between 0 and 500", field="radius_km")
    certified_only = request.args.get("all") is None
    routes = route_network(session)
    samples = coverage_samples(session)
    lats, lons = coverage.eligible_shops(session, certified_only)
    covered = coverage.covered_samples(samples, lats, lons, radius)
    report = coverage.coverage_report(samples, covered, routes, radius)
    gaps = coverage.find_gaps(samples, covered, routes)
    sites = coverage.recommend_sites(samples, covered, radius, 10, routes)
    markers = [
        {
            "lat": site["lat"],
            "lon": site["lon"],
            "label": f"#{site['rank']} {site['route']} K{site['km']:.0f} +{site['gain_km']:.0f} km",
            "color": "#0b5cad",
            "radius": 8,
        }
        for site in sites
    ]
    shops = [
        {"lat": float(lat), "lon": float(lon), "color": "#1b7f3b", "radius": 2}
        for lat, lon in zip(lats, lons, strict=True)
    ]
    settings = current_settings()
    # Escalated roadside requests are work to act on now: read from the primary, never a lagging replica.
    escalated = [
        rendering.request_to_dict(item, actor, settings.zone)
        for item in db_session().scalars(assistance.select_requests_for(actor, AssistanceStatus.ESCALATED).limit(50))
    ]
    return render_template(
        "network/coverage.html",
        escalated=escalated,
        report=report,
        gaps=gaps[:20],
        gap_count=len(gaps),
        sites=sites,
        capacity=coverage.capacity_by_province(session),
        radius=radius,
        certified_only=certified_only,
        map=map_config(
            lines=[{"geojson": coverage.gaps_to_geojson(gaps, routes), "color": "#b3261e", "weight": 5}],
            markers=shops + markers,
            fit="markers",
        ),
    )
