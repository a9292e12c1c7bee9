"""The OEM's traceability pages: alerts (list, detail with reports and scans, status changes), recalls (list,
create, affected vehicles, the call center's CSV) and scan statistics by province and period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.clock import local_today, zone
from app.crm.activity import select_activity
from app.crm.regions import PROVINCES
from app.errors import InvalidInput, MilepostError, NotFound
from app.security import Role, User
from app.web.auth import page_actor
from app.web.context import db_session, report_session, settings
from app.web.csrf import check_csrf
from app.web.endpoints import parse_query
from app.web.navigation import NavLink
from app.web.pagination import PageQuery, paginate
from app.web.transaction import discard_request_writes
from traceability import alerts, recalls
from traceability.codes import normalize_gtin, normalize_serial, parse_digital_link
from traceability.models import AlertStatus, Batch, Verdict
from traceability.scan_stats import scan_statistics

pages = Blueprint(
    "traceability_oem",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/traceability/static",
)

NAVIGATION: list[NavLink] = [
    NavLink("traceability_oem.list_alerts", _l("Alerts"), (Role.OEM_ADMIN,)),
    NavLink("traceability_oem.list_recalls", _l("Recalls"), (Role.OEM_ADMIN,)),
    NavLink("traceability_oem.scan_statistics_page", _l("Scan statistics"), (Role.OEM_ADMIN,)),
]

VERDICT_LABELS = {
    Verdict.GENUINE: _l("Genuine"),
    Verdict.INSTALLED: _l("Installed"),
    Verdict.SUSPECT: _l("Suspect"),
    Verdict.RECALLED: _l("Recalled"),
    Verdict.VOID: _l("Void"),
    Verdict.COUNTERFEIT: _l("Counterfeit"),
}
STATUS_LABELS = {
    AlertStatus.OPEN: _l("Not yet handled"),
    AlertStatus.INVESTIGATING: _l("Investigating"),
    AlertStatus.CLOSED: _l("Closed"),
}
# Every cause an alert is raised under (scan reasons, clone signals, refused custody moves, driver reports).
CAUSE_LABELS = {
    "foreign_origin": _l("Code from another issuer"),
    "missing_tag": _l("Code without security tag"),
    "bad_tag": _l("Security tag does not match"),
    "gtin_mismatch": _l("Serial of another part type"),
    "unknown_serial": _l("Serial never made"),
    "malformed_code": _l("Unreadable code"),
    "counterfeit_flood": _l("Many counterfeit scans from one source"),
    "impossible_travel": _l("Impossible travel between scans"),
    "many_cities": _l("Scanned in too many cities"),
    "far_from_chain": _l("Scanned far from its delivery"),
    "activation_after_install": _l("Second activation attempt"),
    "activation_replayed": _l("Activation code used again"),
    "activation_of_destroyed": _l("Activation of a destroyed part"),
    "resale_after_install": _l("Sold again after installation"),
    "resale_after_removal": _l("Sold again after removal"),
    "resale_of_destroyed": _l("Sale of a destroyed part"),
    "uncorroborated_clone_signal": _l("Clone signal, not yet corroborated"),
    "reported_counterfeit": _l("Driver report: counterfeit"),
    "reported_used_as_new": _l("Driver report: used part sold as new"),
    "reported_overpriced": _l("Driver report: overpriced"),
    "reported_poor_installation": _l("Driver report: poor installation"),
    "reported_other": _l("Driver report: other problem"),
}
PROBLEM_LABELS = {
    "counterfeit": _l("Counterfeit"),
    "used_as_new": _l("Used part sold as new"),
    "overpriced": _l("Overpriced"),
    "poor_installation": _l("Poor installation"),
    "other": _l("Other problem"),
}
REASON_LABELS = {
    **CAUSE_LABELS,
    "offered_after_install": _l("Offered for sale after installation"),
    "offered_after_removal": _l("Offered for sale after removal"),
    "destroyed": _l("Recorded as destroyed"),
    "recalled": _l("Under recall"),
    "installed": _l("Already installed"),
}
SCOPE_LABELS = {"batch": _l("Batch"), "part_type": _l("Part type and production dates"), "serials": _l("Serials")}
STATS_DAYS = 30


@pages.app_template_filter("oem_time")
def oem_time(moment: datetime | str | None) -> str:
    """Return a UTC timestamp as local date and minute (TIMEZONE)."""
    if not moment:
        return ""
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(zone(settings())).strftime("%Y-%m-%d %H:%M")


@pages.context_processor
def _labels() -> dict:
    return {
        "verdict_labels": VERDICT_LABELS,
        "status_labels": STATUS_LABELS,
        "cause_labels": CAUSE_LABELS,
        "problem_labels": PROBLEM_LABELS,
        "reason_labels": REASON_LABELS,
        "scope_labels": SCOPE_LABELS,
    }


class AlertPageQuery(PageQuery):
    status: str | None = None
    cause: str | None = None
    province: str | None = None


def _oem() -> User | Response:
    return page_actor(Role.OEM_ADMIN)


@pages.route("/oem/alerts")
def list_alerts():
    """List counterfeit and clone alerts with filters by status, cause and province, newest activity first."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    query = parse_query(AlertPageQuery)
    statement = alerts.select_alerts(query.status, query.cause, query.province)
    result = paginate(db_session(), statement, query, lambda alert: alert)
    return render_template(
        "traceability/oem/alerts.html", result=result, query=query, statuses=list(AlertStatus), provinces=PROVINCES
    )


def _alert_page(alert_id: int, error: MilepostError | None = None):
    session = db_session()
    alert = alerts.get_alert(session, alert_id)
    scans = session.scalars(alerts.select_alert_scans(alert).limit(100)).all()
    history = session.scalars(select_activity(subject_type="alert", subject_id=str(alert.id))).all()
    actors = {user.id: user for user in session.scalars(select(User).where(User.id.in_({e.actor_id for e in history})))}
    page = render_template(
        "traceability/oem/alert.html",
        alert=alert,
        scans=scans,
        history=history,
        actors=actors,
        statuses=list(AlertStatus),
        error=error,
        changed=request.args.get("changed") == "1",
    )
    return page, (error.status if error else 200)


@pages.route("/oem/alerts/<int:alert_id>")
def show_alert(alert_id: int):
    """Show an alert with every driver report and every scan behind it, its history and the status form."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    return _alert_page(alert_id)


@pages.route("/oem/alerts/<int:alert_id>/status", methods=["POST"])
def change_alert_status(alert_id: int):
    """Move an alert to open, investigating or closed with a note (the activity log keeps who and why)."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    check_csrf()
    try:
        status = request.form.get("status", "")
        note = request.form.get("note", "").strip()
        if len(note) > 500:
            raise InvalidInput("a note is at most 500 characters", field="note")
        alerts.update_alert_status(db_session(), actor, alert_id, status, note)
    except NotFound:
        raise
    except MilepostError as problem:
        discard_request_writes(problem)
        return _alert_page(alert_id, problem)
    return redirect(url_for("traceability_oem.show_alert", alert_id=alert_id, changed=1))


def _recalls_page(error: MilepostError | None = None, form: dict | None = None):
    query = parse_query(PageQuery)
    result = paginate(db_session(), recalls.select_recalls(), query, lambda recall: recall)
    page = render_template("traceability/oem/recalls.html", result=result, error=error, form=form or {})
    return page, (error.status if error else 200)


@pages.route("/oem/recalls")
def list_recalls():
    """List recalls, newest first, with the form that creates one."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    return _recalls_page()


def _form_date(form, name: str) -> date | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("%(field)s is a date (YYYY-MM-DD)", field=name) from None


def read_serial_lines(text: str) -> list[dict]:
    """Read one part per line: a scanned code URL, or its GTIN and serial separated by a space or comma."""
    parts = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        field = f"serials[{number}]"
        if "/01/" in line:
            link = parse_digital_link(line, field=field)
            parts.append({"gtin": link.gtin, "serial": link.serial})
            continue
        pieces = line.replace(",", " ").replace("\t", " ").split()
        if len(pieces) != 2:
            raise InvalidInput("line %(line)s: give the GTIN and the serial, or the code URL", field=field, line=number)
        parts.append(
            {"gtin": normalize_gtin(pieces[0], field=field), "serial": normalize_serial(pieces[1], field=field)}
        )
    if not parts:
        raise InvalidInput("list at least one part, one per line", field="serials")
    return parts


def _recall_scope(form) -> dict:
    """Turn the form's chosen scope into create_recall's arguments (only the chosen scope's fields count)."""
    scope = form.get("scope", "")
    if scope == "batch":
        lot = (form.get("batch") or "").strip().upper()
        if not lot:
            raise InvalidInput("give the batch's lot number", field="batch")
        batch_id = db_session().scalar(select(Batch.id).where(Batch.lot == lot))
        if batch_id is None:
            raise NotFound("no batch with lot %(lot)s", field="batch", lot=lot)
        return {"batch_id": batch_id}
    if scope == "part_type":
        part_number = (form.get("part_number") or "").strip()
        if not part_number:
            raise InvalidInput("give the part number", field="part_number")
        return {
            "part_number": part_number,
            "produced_from": _form_date(form, "produced_from"),
            "produced_to": _form_date(form, "produced_to"),
        }
    if scope == "serials":
        return {"serials": read_serial_lines(form.get("serials", ""))}
    raise InvalidInput("choose what to recall: a batch, a part type, or serials", field="scope")


@pages.route("/oem/recalls", methods=["POST"])
def create_recall():
    """Recall a batch, a part type produced between two dates, or listed serials, with notices in zh and en."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    check_csrf()
    form = request.form
    try:
        recall = recalls.create_recall(
            db_session(),
            actor,
            notice_zh=form.get("notice_zh", ""),
            notice_en=form.get("notice_en", ""),
            zone=zone(settings()),
            **_recall_scope(form),
        )
    except MilepostError as problem:
        discard_request_writes(problem)
        return _recalls_page(problem, form.to_dict())
    return redirect(url_for("traceability_oem.show_recall", code=recall.code, created=1))


@pages.route("/oem/recalls/<code>")
def show_recall(code: str):
    """Show a recall, its notices and the vehicles carrying its parts, with owners' phones masked."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    session = db_session()
    recall = recalls.get_recall(session, code)
    query = parse_query(PageQuery)
    result = paginate(
        session,
        recalls.select_recall_vehicles(recall),
        query,
        lambda installation: recalls.affected_vehicle_to_dict(installation, masked=True),
    )
    return render_template(
        "traceability/oem/recall.html", recall=recall, result=result, created=request.args.get("created") == "1"
    )


@pages.route("/oem/recalls/<code>/contacts.csv", methods=["POST"])
def export_recall_contacts(code: str):
    """Download the call center's CSV of vehicles and owners to contact (full phones; the export is logged)."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    check_csrf()
    session = db_session()
    recall = recalls.get_recall(session, code)
    # A byte order mark, so that spreadsheet programs read the Chinese names as UTF-8.
    body = "\ufeff" + recalls.export_recall_contacts(session, actor, recall)
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="recall-{recall.code}-contacts.csv"'
    return response


def _period(config) -> tuple[date, date]:
    today = local_today(config)
    first = _form_date(request.args, "since") or today - timedelta(days=STATS_DAYS - 1)
    last = _form_date(request.args, "until") or today
    if first > last:
        raise InvalidInput("since is after until", field="since")
    return first, last


@pages.route("/oem/scans")
def scan_statistics_page():
    """Show scans by province and verdict over a period of local days (the last 30 unless chosen)."""
    actor = _oem()
    if isinstance(actor, Response):
        return actor
    config = settings()
    first, last = _period(config)
    local = zone(config)
    since = datetime.combine(first, time(), local)
    until = datetime.combine(last + timedelta(days=1), time(), local)
    statistics = scan_statistics(report_session(), since, until)
    return render_template(
        "traceability/oem/scan_stats.html", statistics=statistics, first=first, last=last, verdicts=list(Verdict)
    )
