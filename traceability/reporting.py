"""Driver problem reports from the scan page: each one is kept and raises or bumps an OEM alert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.geo import LatLon, coarsen
from app.security import ensure_attempts_left, record_attempt
from traceability.alerts import raise_alert
from traceability.codes import DigitalLink
from traceability.models import ProblemReport
from traceability.places import locate
from traceability.scans import find_installation, find_last_sale, find_part

PROBLEMS = ("counterfeit", "used_as_new", "overpriced", "poor_installation", "other")
REPORT_BUCKET = "problem_report"
MAX_MESSAGE = 1000


def report_problem(
    session: Session,
    link: DigitalLink | None,
    *,
    gtin: str,
    serial: str,
    problem: str,
    message: str,
    client: str,
    limit: int,
    window: timedelta,
    position: LatLon | None = None,
) -> ProblemReport:
    """Store a report about a scanned part (or unreadable code) and alert the OEM about the shop concerned.

    Every report is kept with its time, the driver's coarse place (city and province, when the page had a
    position) and its text; the alert lists them all (a later report never replaces an earlier one)."""
    if problem not in PROBLEMS:
        raise InvalidInput(f"problem is one of {', '.join(PROBLEMS)}", field="problem")
    ensure_attempts_left(session, REPORT_BUCKET, [f"client:{client}"], limit, window)
    record_attempt(session, REPORT_BUCKET, f"client:{client}")
    part = find_part(session, link.gtin, link.serial) if link is not None else None
    concerned = None
    if part is not None:
        installation = find_installation(session, part)
        sale = find_last_sale(session, part)
        concerned = installation.organization_id if installation else (sale.seller_id if sale else part.holder_id)
    place = locate(coarsen(position.lat), coarsen(position.lon)) if position is not None else None
    text = message.strip()[:MAX_MESSAGE]
    alert_id = raise_alert(
        session,
        f"reported_{problem}",
        part=part,
        gtin=link.gtin if link else gtin[:14],
        serial=link.serial if link else serial[:20],
        organization_id=concerned,
        details={"problem": problem},
    )
    report = ProblemReport(
        alert_id=alert_id,
        part_id=part.id if part else None,
        organization_id=concerned,
        problem=problem,
        message=text,
        city=place.city if place else None,
        province=place.province if place else None,
    )
    session.add(report)
    session.flush()
    return report
