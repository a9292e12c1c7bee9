"""Coverage of the expressways for the OEM: summary, gaps, recommended sites, capacity."""

from __future__ import annotations

from pydantic import Field

from app.security import Role
from app.web.context import report_session
from app.web.endpoints import QuerySchema
from network import coverage
from network.api import api
from network.web import coverage_samples, current_settings, route_network


class CoverageQuery(QuerySchema):
    radius_km: float | None = Field(None, gt=0, le=500, description="a kilometre is covered within this distance")
    certified: bool = Field(True, description="count certified shops only (false: every active shop)")


class GapQuery(CoverageQuery):
    format: str = Field("json", pattern="^(json|geojson)$", description="json or geojson")


class RecommendationQuery(CoverageQuery):
    count: int = Field(10, ge=1, le=100, description="how many new sites")


def _covered(query: CoverageQuery):
    session = report_session()
    radius = query.radius_km or current_settings().coverage_radius_km
    samples = coverage_samples(session)
    lats, lons = coverage.eligible_shops(session, query.certified)
    return session, samples, coverage.covered_samples(samples, lats, lons, radius), radius


@api.endpoint(
    "GET", "/coverage", access=[Role.OEM_ADMIN], query=CoverageQuery, summary="Covered km per route and province"
)
def coverage_summary(actor, query: CoverageQuery):
    session, samples, covered, radius = _covered(query)
    report = coverage.coverage_report(samples, covered, route_network(session), radius)
    report["certified_only"] = query.certified
    return report


@api.endpoint("GET", "/coverage/gaps", access=[Role.OEM_ADMIN], query=GapQuery, summary="Uncovered stretches")
def coverage_gaps(actor, query: GapQuery):
    session, samples, covered, radius = _covered(query)
    routes = route_network(session)
    gaps = coverage.find_gaps(samples, covered, routes)
    if query.format == "geojson":
        return coverage.gaps_to_geojson(gaps, routes)
    return {"radius_km": radius, "certified_only": query.certified, "gaps": gaps}


@api.endpoint(
    "GET", "/coverage/recommendations", access=[Role.OEM_ADMIN], query=RecommendationQuery, summary="Best new sites"
)
def coverage_recommendations(actor, query: RecommendationQuery):
    session, samples, covered, radius = _covered(query)
    sites = coverage.recommend_sites(samples, covered, radius, query.count, route_network(session))
    return {"radius_km": radius, "certified_only": query.certified, "sites": sites}


@api.endpoint(
    "GET", "/coverage/capacity", access=[Role.OEM_ADMIN], summary="Registered trucks per shop bay by province"
)
def coverage_capacity(actor):
    return {"provinces": coverage.capacity_by_province(report_session())}
