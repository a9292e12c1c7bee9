"""Community pages (phone-first): questions and search, ask, a question with its answers, report, and the OEM's
moderation queue."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import Field
from werkzeug.wrappers import Response

from app.db import utcnow
from app.errors import MilepostError, NotFound
from app.security import Role
from app.web.auth import page_actor
from app.web.context import client_address, current_actor, db_session
from app.web.csrf import check_csrf
from app.web.endpoints import parse_query
from app.web.navigation import NavLink
from app.web.pagination import PageQuery, paginate
from app.web.transaction import discard_request_writes
from community import answers, moderation, questions
from community.models import HoldReason, PostStatus, Report, ReportReason, TargetKind
from community.settings import community_settings
from community.web import current_settings, question_url

pages = Blueprint(
    "community",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/community/static",
)

NAVIGATION: list[NavLink] = [
    NavLink("community.questions_page", "Drivers' Q&A"),
    NavLink("community.moderation_page", "Community moderation", (Role.OEM_ADMIN,)),
]
STATUS_LABELS = {
    PostStatus.HELD: _l("Under review"),
    PostStatus.PUBLISHED: _l("Published"),
    PostStatus.HIDDEN: _l("Hidden by a moderator"),
}
HOLD_LABELS = {HoldReason.NEW_ACCOUNT: _l("new account"), HoldReason.KEYWORD: _l("keyword")}
REASON_LABELS = {
    ReportReason.ILLEGAL: _l("Illegal content"),
    ReportReason.SPAM: _l("Spam or advertising"),
    ReportReason.ABUSE: _l("Abuse"),
    ReportReason.FAKE_PARTS: _l("Promotes fake parts"),
    ReportReason.PRIVACY: _l("Someone's private data"),
}
POSTER_LABELS = {"driver": _l("Driver"), "shop": _l("Service shop"), "oem": _l("OEM")}
TAG_LABELS = {"code": _l("Fault code"), "part_type": _l("Part"), "model": _l("Model")}
LABELS = {
    "statuses": STATUS_LABELS,
    "holds": HOLD_LABELS,
    "reasons": REASON_LABELS,
    "posters": POSTER_LABELS,
    "tags": TAG_LABELS,
}


@pages.record_once
def _check_settings(state) -> None:
    """Stop the app at start-up on a bad community setting or an unreadable keyword or IP file."""
    community_settings(state.app.config)


@pages.app_context_processor
def _labels() -> dict:
    return {"community_labels": LABELS}


def ask_community_link(code_short: str) -> tuple[str, str]:
    """Return the fault page's link to the drivers' questions about a code (registered by the shell)."""
    return _("Ask other drivers"), url_for("community.questions_page", code=code_short)


class QuestionListPage(PageQuery):
    q: str | None = Field(None, max_length=100)
    code: str | None = Field(None, max_length=200)
    solved: bool | None = None


def _lines(name: str) -> list[str]:
    return [part.strip() for part in request.form.get(name, "").replace("，", ",").split(",") if part.strip()]


@pages.route("/community")
def questions_page():
    """List questions, newest first, or those matching a search or a fault code."""
    actor = current_actor()
    query = parse_query(QuestionListPage)
    statement = questions.select_questions(actor, query=query.q, code=query.code, solved=query.solved)
    listing = paginate(db_session(), statement, query, lambda question: questions.question_to_dict(question, actor))
    return render_template("community/questions.html", listing=listing, query=query)


@pages.route("/community/ask", methods=["GET", "POST"])
def ask_page():
    """Show the question form (a code from the fault page comes as ?code=) and post the question."""
    actor = page_actor(*Role)
    if isinstance(actor, Response):
        return actor
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            question = questions.ask_question(
                db_session(), actor, request.form.get("title", ""), request.form.get("body", ""),
                current_settings(), utcnow(), codes=_lines("codes"), part_numbers=_lines("part_numbers"),
                models=_lines("models"), client=client_address(),
            )  # fmt: skip
            return redirect(url_for("community.question_page", question_id=question.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    code = request.args.get("code", "")[:40]
    return render_template("community/ask.html", error=error, code=code), (error.status if error else 200)


def _question_view(question_id: int, error: MilepostError | None = None):
    actor = current_actor()
    question = questions.get_question(db_session(), actor, question_id)
    return render_template(
        "community/question.html",
        question=questions.question_to_dict(question, actor, with_answers=True),
        is_asker=actor is not None and actor.id == question.author_id,
        is_oem=actor is not None and actor.role == Role.OEM_ADMIN,
        error=error,
    ), (error.status if error else 200)


@pages.route("/community/questions/<int:question_id>")
def question_page(question_id: int):
    """Show a question with its answers (the accepted one first) and the answer form."""
    return _question_view(question_id)


def _act(question_id: int, action) -> Response | tuple:
    """Run a form action of the question page; on a domain error show the page again with the message."""
    check_csrf()
    try:
        action(db_session())
    except MilepostError as problem:
        discard_request_writes(problem)
        return _question_view(question_id, problem)
    return redirect(url_for("community.question_page", question_id=question_id))


@pages.route("/community/questions/<int:question_id>/answers", methods=["POST"])
def answer_page(question_id: int):
    """Post an answer to the question."""
    actor = page_actor(*Role)
    if isinstance(actor, Response):
        return actor

    def post(session) -> None:
        question = questions.get_question(session, actor, question_id)
        answers.post_answer(
            session, actor, question, request.form.get("body", ""), current_settings(), utcnow(), client_address()
        )

    return _act(question_id, post)


def _answer_action(answer_id: int, work) -> Response | tuple:
    actor = page_actor(*Role)
    if isinstance(actor, Response):
        return actor
    found = questions.get_answer(db_session(), actor, answer_id)
    return _act(found.question_id, lambda session: work(session, actor, found))


@pages.route("/community/answers/<int:answer_id>/accept", methods=["POST"])
def accept_page(answer_id: int):
    """Accept the answer as the one that solved the asker's question."""
    return _answer_action(
        answer_id, lambda session, actor, found: answers.accept_answer(session, actor, found, utcnow())
    )


@pages.route("/community/answers/<int:answer_id>/verify", methods=["POST"])
def verify_page(answer_id: int):
    """Mark the answer OEM-verified (OEM staff)."""
    return _answer_action(
        answer_id, lambda session, actor, found: answers.verify_answer(session, actor, found, utcnow())
    )


@pages.route("/community/answers/<int:answer_id>/article", methods=["POST"])
def article_page(answer_id: int):
    """Draft a knowledge article from the OEM-verified answer (OEM staff)."""
    return _answer_action(
        answer_id,
        lambda session, actor, found: answers.draft_article(session, actor, found, question_url(found.question)),
    )


@pages.route("/community/report/<kind>/<int:post_id>", methods=["GET", "POST"])
def report_page(kind: str, post_id: int):
    """Show the report form for a question or an answer and file the report."""
    actor = page_actor(*Role)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    post = moderation.find_post(session, kind, post_id)
    if not questions.may_see(actor, post):
        raise NotFound("no such post", field="id")
    question_id = post.id if kind == TargetKind.QUESTION else post.question_id
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            moderation.report_post(
                session, actor, post, request.form.get("reason", ""), request.form.get("note", ""),
                current_settings(), utcnow(),
            )  # fmt: skip
            return redirect(url_for("community.question_page", question_id=question_id, reported=1))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    hours = int(current_settings().report_deadline.total_seconds() // 3600)
    return render_template(
        "community/report.html", kind=kind, post=post, question_id=question_id, report_hours=hours, error=error
    ), (error.status if error else 200)


def _moderation_view(actor, error: MilepostError | None = None):
    session = db_session()
    queue = moderation.moderation_queue(session, actor)
    now = utcnow()
    reports = []
    for report in queue["reports"]:
        post = moderation.find_post(session, report.target_kind, report.target_id)
        reports.append((moderation.report_to_dict(report, now), post))
    return render_template(
        "community/moderation.html",
        held_questions=[questions.question_to_dict(question, actor) for question in queue["questions"]],
        held_answers=[(questions.answer_to_dict(item, actor), item.question) for item in queue["answers"]],
        reports=reports,
        error=error,
    ), (error.status if error else 200)


@pages.route("/community/moderation")
def moderation_page():
    """Show the OEM's queue: held posts to publish or hide, reports by deadline (overdue first)."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    return _moderation_view(actor)


def _moderate(work) -> Response | tuple:
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    check_csrf()
    try:
        work(db_session(), actor)
    except MilepostError as problem:
        discard_request_writes(problem)
        return _moderation_view(actor, problem)
    return redirect(url_for("community.moderation_page"))


@pages.route("/community/moderation/<kind>/<int:post_id>", methods=["POST"])
def moderate_page(kind: str, post_id: int):
    """Publish, hide or restore a post, with the moderator's reason."""

    def work(session, actor) -> None:
        post = moderation.find_post(session, kind, post_id)
        moderation.moderate_post(
            session, actor, post, request.form.get("action", ""), request.form.get("reason", ""), utcnow()
        )

    return _moderate(work)


@pages.route("/community/reports/<int:report_id>/close", methods=["POST"])
def close_report_page(report_id: int):
    """Uphold a report (the post is hidden) or dismiss it, with the moderator's reason."""

    def work(session, actor) -> None:
        report = session.get(Report, report_id)
        if report is None:
            raise NotFound("no such report", field="report")
        moderation.close_report(
            session, actor, report, request.form.get("outcome", ""), request.form.get("reason", ""), utcnow()
        )

    return _moderate(work)
