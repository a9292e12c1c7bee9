"""Moderation: publish held posts, hide with a reason (never delete), restore, and reports with a deadline.

Every action is written to the activity log with its actor and reason; the post keeps its text and shows its
author "hidden by a moderator" with the reason. Moderators are OEM staff.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.errors import Conflict, InvalidInput, NotFound
from app.security import Role, User, require_actor, require_role
from community.answers import tell_asker
from community.models import Answer, PostStatus, Question, Report, ReportReason, ReportStatus, TargetKind
from community.questions import clean_text, insert_once, may_see
from community.settings import CommunitySettings

MAX_REASON = 500
MAX_NOTE = 500
Post = Question | Answer
# action: (the statuses it applies to, the status it sets, whether a reason is required)
ACTIONS = {
    "publish": ((PostStatus.HELD,), PostStatus.PUBLISHED, False),
    "hide": ((PostStatus.HELD, PostStatus.PUBLISHED), PostStatus.HIDDEN, True),
    "restore": ((PostStatus.HIDDEN,), PostStatus.PUBLISHED, True),
}


def find_post(session: Session, kind: str, post_id: int) -> Post:
    """Return the question or answer named by kind and id (404 when there is none)."""
    model = {TargetKind.QUESTION: Question, TargetKind.ANSWER: Answer}.get(kind)
    if model is None:
        raise InvalidInput("kind is question or answer", field="kind")
    post = session.get(model, post_id)
    if post is None:
        raise NotFound("no such post", field="id")
    return post


def kind_of(post: Post) -> str:
    """Return the TargetKind of a post."""
    return TargetKind.QUESTION if isinstance(post, Question) else TargetKind.ANSWER


def moderate_post(session: Session, actor: User | None, post: Post, action: str, reason: str, now: datetime) -> Post:
    """Publish a held post, hide a post, or restore a hidden one, as OEM staff; the reason goes to the log."""
    actor = require_role(actor, Role.OEM_ADMIN)
    if action not in ACTIONS:
        raise InvalidInput("action is publish, hide or restore", field="action")
    allowed, status, needs_reason = ACTIONS[action]
    reason = clean_text(reason or "", "reason", MAX_REASON, 1 if needs_reason else 0)
    if post.status not in allowed:
        raise Conflict("the post is %(status)s; it cannot be changed that way", field="action", status=post.status)
    post.status = status
    if status == PostStatus.PUBLISHED and post.published_at is None:
        post.published_at = now
    post.moderation_reason = reason if status == PostStatus.HIDDEN else None
    session.flush()
    record_activity(session, actor, f"community.post_{action}", kind_of(post), post.id, reason=reason)
    if isinstance(post, Answer):
        tell_asker(session, post, now)
    if status == PostStatus.HIDDEN:
        _close_reports(session, actor, post, ReportStatus.UPHELD, reason, now)
    return post


def _close_reports(session: Session, actor: User, post: Post, outcome: str, reason: str, now: datetime) -> None:
    """Close every open report of the post with the moderator's outcome."""
    reports = session.scalars(
        select(Report).where(
            Report.target_kind == kind_of(post), Report.target_id == post.id, Report.status == ReportStatus.OPEN
        )
    )
    for report in reports:
        report.status, report.closed_at, report.closed_by_id, report.outcome_reason = outcome, now, actor.id, reason
        record_activity(session, actor, "community.report_closed", "report", report.id, outcome=outcome)
    session.flush()


def report_post(
    session: Session,
    actor: User | None,
    post: Post,
    reason: str,
    note: str,
    settings: CommunitySettings,
    now: datetime,
) -> Report:
    """Report a post the actor can see; a moderator must look at it within the report deadline."""
    actor = require_actor(actor)
    if not may_see(actor, post):
        raise NotFound("no such post", field="id")
    if reason not in ReportReason.__members__.values():
        raise InvalidInput("reason is one of %(reasons)s", field="reason", reasons=", ".join(ReportReason))
    report = Report(
        target_kind=kind_of(post),
        target_id=post.id,
        reporter_id=actor.id,
        reason=reason,
        note=clean_text(note or "", "note", MAX_NOTE, 0),
        created_at=now,
        due_at=now + settings.report_deadline,
    )
    insert_once(session, report, "you have reported this post already")
    record_activity(session, actor, "community.post_reported", kind_of(post), post.id, report=report.id, reason=reason)
    return report


def close_report(
    session: Session, actor: User | None, report: Report, outcome: str, reason: str, now: datetime
) -> Report:
    """Uphold a report (the post is hidden with the reason) or dismiss it, as OEM staff."""
    actor = require_role(actor, Role.OEM_ADMIN)
    if outcome not in (ReportStatus.UPHELD, ReportStatus.DISMISSED):
        raise InvalidInput("outcome is upheld or dismissed", field="outcome")
    if report.status != ReportStatus.OPEN:
        raise Conflict("this report is closed already", field="report")
    reason = clean_text(reason or "", "reason", MAX_REASON)
    post = find_post(session, report.target_kind, report.target_id)
    if outcome == ReportStatus.UPHELD and post.status != PostStatus.HIDDEN:
        moderate_post(session, actor, post, "hide", reason, now)
    else:
        _close_reports(session, actor, post, outcome, reason, now)
    return report


def flag_overdue_reports(session: Session, now: datetime) -> int:
    """Flag to the OEM every open report past its deadline that is not flagged yet; return how many."""
    overdue = list(
        session.scalars(
            select(Report).where(Report.status == ReportStatus.OPEN, Report.due_at < now, Report.overdue_at.is_(None))
        )
    )
    for report in overdue:
        report.overdue_at = now
        record_activity(
            session, None, "community.report_overdue", "report", report.id, due_at=report.due_at.isoformat()
        )
    session.flush()
    return len(overdue)


def moderation_queue(session: Session, actor: User | None, limit: int = 100) -> dict:
    """Return what waits for the OEM's moderators: held posts oldest first, open reports by deadline."""
    require_role(actor, Role.OEM_ADMIN)
    held = {
        kind: list(
            session.scalars(select(model).where(model.status == PostStatus.HELD).order_by(model.id).limit(limit))
        )
        for kind, model in ((TargetKind.QUESTION, Question), (TargetKind.ANSWER, Answer))
    }
    reports = list(
        session.scalars(
            select(Report).where(Report.status == ReportStatus.OPEN).order_by(Report.due_at, Report.id).limit(limit)
        )
    )
    return {"questions": held[TargetKind.QUESTION], "answers": held[TargetKind.ANSWER], "reports": reports}


def report_to_dict(report: Report, now: datetime) -> dict:
    """Render a report for the moderators (the reporter is not named)."""
    return {
        "id": report.id,
        "target_kind": report.target_kind,
        "target_id": report.target_id,
        "reason": report.reason,
        "note": report.note,
        "status": report.status,
        "created_at": report.created_at.isoformat(),
        "due_at": report.due_at.isoformat(),
        "overdue": report.overdue_at is not None or (report.status == ReportStatus.OPEN and report.due_at < now),
        "outcome_reason": report.outcome_reason,
    }
