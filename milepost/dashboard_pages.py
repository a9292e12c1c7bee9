"""The OEM dashboard at /oem: figures and server-drawn charts across traceability, network, reviews and jobs."""

from __future__ import annotations

import math

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.clock import local_today, zone
from app.db import utcnow
from app.jobs import QUEUE_KEY
from app.security import Role
from app.web.auth import page_actor
from app.web.context import db_session, settings
from app.web.jobs import JOB_STATES, register_job_labels
from app.web.navigation import NavLink
from milepost import charts, dashboard
from network.pages.driver import map_config
from network.web import current_settings
from reviews.plaques import count_open_requests
from traceability.oem_pages import CAUSE_LABELS, VERDICT_LABELS

pages = Blueprint("dashboard", __name__)
NAVIGATION = [NavLink("dashboard.oem_dashboard", _l("Dashboard"), (Role.OEM_ADMIN,))]
# The dashboard names each job in the page's language (a job's summary is its English docstring).
JOB_LABELS = {
    "network.assistance_rounds": _l("Roadside request rounds"),
    "network.advance_assistance_request": _l("Advance one roadside request"),
    "network.expire_booking_requests": _l("Expire unanswered bookings"),
    "network.refresh_coverage": _l("Recompute the coverage figure"),
    "reviews.evaluate_certification": _l("Certification evaluation"),
    "service.advance": _l("Service desk clocks and notifications"),
    "knowledge.expire_stale_faults": _l("Retire stale vehicle faults"),
    "core.prune_attempts": _l("Clear old failed-attempt counters"),
    "core.prune_job_runs": _l("Clear old job runs"),
    "core.touchpoint_retention": _l("Drop or anonymize old touchpoints"),
    "traceability.refresh_sale_price_ranges": _l("Refresh sale price ranges"),
    "traceability.commission_batch": _l("Commission a large batch"),
    "traceability.notify_recall_owners": _l("Tell the owners of recalled trucks"),
    "traceability.create_partitions": _l("Create next months' partitions"),
    "traceability.scan_location_retention": _l("Coarsen old scan locations"),
    "community.flag_overdue_reports": _l("Flag overdue community reports"),
    "core.deliver_notifications": _l("Text notifications after quiet hours"),
    "core.deliver_wechat": _l("Send WeChat subscription messages"),
    "leads.advance": _l("Lead intake, dispatch and returns"),
    "maintenance.send_reminders": _l("Maintenance due reminders"),
    "core.build_demo": _l("Build the rest of the demo data"),
}
register_job_labels(JOB_LABELS)
SCAN_DAYS = 14
MAP_DAYS = 30
TOP_ROWS = 10


def _cell_marker(cell: dict) -> dict:
    counts = " · ".join(
        f"{VERDICT_LABELS.get(verdict, verdict)} {count}" for verdict, count in sorted(cell["verdicts"].items())
    )
    return {
        "lat": cell["lat"],
        "lon": cell["lon"],
        "color": charts.VERDICT_COLOURS.get(cell["worst"], charts.OTHER_COLOUR),
        # Area grows with the count; a single scan stays visible.
        "radius": min(4 + 2 * math.log2(cell["total"]), 16),
        "label": _("%(count)s scans", count=cell["total"]) + f": {counts}",
    }


@pages.route("/oem")
def oem_dashboard():
    """Show the OEM what needs attention today and how the network is doing."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    session, config, now = db_session(), settings(), utcnow()
    today = local_today(config)
    scan_period = dashboard.Period.ending(today, SCAN_DAYS, zone(config))
    per_day = dashboard.scans_per_day(session, scan_period)
    alerts = dashboard.open_alerts(session)
    network = current_settings()
    cells = dashboard.scan_cells(session, dashboard.Period.ending(today, MAP_DAYS, zone(config)))
    verdict_order = list(reversed(dashboard.VERDICT_ORDER))
    context = {
        "per_day": per_day,
        "scans_today": per_day[-1]["total"],
        "scan_chart": charts.stacked_columns(
            [(row["day"].strftime("%m-%d"), row["verdicts"]) for row in per_day], verdict_order, charts.VERDICT_COLOURS
        ),
        "verdict_order": verdict_order,
        "verdict_colours": charts.VERDICT_COLOURS,
        "alerts": alerts,
        "cause_chart": charts.bar_list(alerts["by_cause"][:TOP_ROWS]),
        "province_chart": charts.bar_list(alerts["by_province"][:TOP_ROWS]),
        "cause_labels": CAUSE_LABELS,
        "verdict_labels": VERDICT_LABELS,
        "job_labels": JOB_LABELS,
        "job_states": JOB_STATES,
        "coverage": dashboard.kept_coverage(session, network.coverage_radius_km, now),
        "coverage_radius": network.coverage_radius_km,
        "tiers": dashboard.tier_distribution(session),
        "pending_changes": dashboard.pending_certification_changes(session),
        "plaque_requests": count_open_requests(session),
        "escalations": dashboard.roadside_escalations(session, now),
        "jobs": dashboard.job_health(session, now),
        "demo_build": dashboard.demo_build(session, current_app.extensions.get(QUEUE_KEY)),
        "map": map_config(markers=[_cell_marker(cell) for cell in cells], fit="markers"),
        "map_cells": len(cells),
        "scan_days": SCAN_DAYS,
        "map_days": MAP_DAYS,
    }
    context["tier_chart"] = charts.bar_list(context["tiers"])
    return render_template("milepost/dashboard.html", **context)
