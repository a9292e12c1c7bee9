"""Community JSON API: the same actions as the pages, for the mini-program and integrations."""

from __future__ import annotations

from pydantic import Field

from app.db import utcnow
from app.errors import NotFound
from app.security import Role
from app.web.context import client_address, db_session
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, Schema
from app.web.pagination import PageQuery, paginate
from community import answers, moderation, questions
from community.models import Report
from community.web import current_settings, question_url
from knowledge.articles import article_to_dict

api = ApiBlueprint("community_api", __name__, tag="Community")
ID = Field(ge=1, le=2**63 - 1)


class QuestionListQuery(PageQuery):
    q: str | None = Field(None, max_length=100, description="words that must all appear (Chinese or English)")
    code: str | None = Field(None, max_length=200, description="a fault code tag: SPN 100 FMI 1, 3251/0, P20EE")
    solved: bool | None = Field(None, description="only solved (true) or unsolved (false) questions")


class QuestionIn(Schema):
    title: str = Field(max_length=questions.MAX_TITLE)
    body: str = Field("", max_length=questions.MAX_BODY)
    codes: list[str] = Field(default_factory=list, max_length=questions.MAX_TAGS)
    part_numbers: list[str] = Field(default_factory=list, max_length=questions.MAX_TAGS)
    models: list[str] = Field(default_factory=list, max_length=questions.MAX_TAGS)


class AnswerIn(Schema):
    body: str = Field(max_length=questions.MAX_BODY)


class ReportIn(Schema):
    kind: str = Field(description="question or answer")
    id: int = ID
    reason: str = Field(description="illegal, spam, abuse, fake_parts or privacy")
    note: str = Field("", max_length=moderation.MAX_NOTE)


class ModerationIn(Schema):
    action: str = Field(description="publish, hide or restore")
    reason: str = Field("", max_length=moderation.MAX_REASON)


class ReportCloseIn(Schema):
    outcome: str = Field(description="upheld (the post is hidden) or dismissed")
    reason: str = Field(max_length=moderation.MAX_REASON)


@api.endpoint("GET", "/community/questions", access=PUBLIC, query=QuestionListQuery, summary="List or search questions")
def list_questions(actor, query: QuestionListQuery):
    statement = questions.select_questions(actor, query=query.q, code=query.code, solved=query.solved)
    return paginate(db_session(), statement, query, lambda question: questions.question_to_dict(question, actor))


@api.endpoint("POST", "/community/questions", access=SIGNED_IN, body=QuestionIn, status=201, summary="Ask a question")
def ask(actor, body: QuestionIn):
    question = questions.ask_question(
        db_session(), actor, body.title, body.body, current_settings(), utcnow(),
        codes=body.codes, part_numbers=body.part_numbers, models=body.models, client=client_address(),
    )  # fmt: skip
    return questions.question_to_dict(question, actor), 201


@api.endpoint("GET", "/community/questions/<int:question_id>", access=PUBLIC, summary="A question with its answers")
def show_question(actor, question_id: int):
    question = questions.get_question(db_session(), actor, question_id)
    return questions.question_to_dict(question, actor, with_answers=True)


@api.endpoint(
    "POST", "/community/questions/<int:question_id>/answers", access=SIGNED_IN, body=AnswerIn, status=201,
    summary="Answer a question",
)  # fmt: skip
def answer(actor, question_id: int, body: AnswerIn):
    session = db_session()
    question = questions.get_question(session, actor, question_id)
    posted = answers.post_answer(session, actor, question, body.body, current_settings(), utcnow(), client_address())
    return questions.answer_to_dict(posted, actor), 201


@api.endpoint(
    "POST", "/community/answers/<int:answer_id>/accept", access=SIGNED_IN, summary="The asker accepts an answer"
)
def accept(actor, answer_id: int):
    session = db_session()
    accepted = answers.accept_answer(session, actor, questions.get_answer(session, actor, answer_id), utcnow())
    return questions.answer_to_dict(accepted, actor)


@api.endpoint("POST", "/community/reports", access=SIGNED_IN, body=ReportIn, status=201, summary="Report a post")
def report(actor, body: ReportIn):
    session = db_session()
    post = moderation.find_post(session, body.kind, body.id)
    created = moderation.report_post(session, actor, post, body.reason, body.note, current_settings(), utcnow())
    return {"id": created.id, "status": created.status, "due_at": created.due_at.isoformat()}, 201


@api.endpoint("GET", "/community/moderation", access=[Role.OEM_ADMIN], summary="Held posts and open reports")
def moderation_queue(actor):
    queue = moderation.moderation_queue(db_session(), actor)
    now = utcnow()
    return {
        "questions": [questions.question_to_dict(question, actor) for question in queue["questions"]],
        "answers": [questions.answer_to_dict(answer, actor) for answer in queue["answers"]],
        "reports": [moderation.report_to_dict(report, now) for report in queue["reports"]],
    }


@api.endpoint(
    "POST", "/community/moderation/<kind>/<int:post_id>", access=[Role.OEM_ADMIN], body=ModerationIn,
    summary="Publish a held post, hide a post with a reason, or restore it",
)  # fmt: skip
def moderate(actor, kind: str, post_id: int, body: ModerationIn):
    session = db_session()
    post = moderation.find_post(session, kind, post_id)
    moderation.moderate_post(session, actor, post, body.action, body.reason, utcnow())
    return {"kind": kind, "id": post.id, "status": post.status}


@api.endpoint(
    "POST", "/community/reports/<int:report_id>/close", access=[Role.OEM_ADMIN], body=ReportCloseIn,
    summary="Uphold (hide the post) or dismiss a report",
)  # fmt: skip
def close_report(actor, report_id: int, body: ReportCloseIn):
    session = db_session()
    found = session.get(Report, report_id)
    if found is None:
        raise NotFound("no such report", field="report")
    moderation.close_report(session, actor, found, body.outcome, body.reason, utcnow())
    return moderation.report_to_dict(found, utcnow())


@api.endpoint(
    "POST", "/community/answers/<int:answer_id>/verify", access=[Role.OEM_ADMIN], summary="Mark an answer OEM-verified"
)
def verify(actor, answer_id: int):
    session = db_session()
    verified = answers.verify_answer(session, actor, questions.get_answer(session, actor, answer_id), utcnow())
    return questions.answer_to_dict(verified, actor)


@api.endpoint(
    "POST", "/community/answers/<int:answer_id>/article", access=[Role.OEM_ADMIN], status=201,
    summary="Draft a knowledge article from an OEM-verified answer",
)  # fmt: skip
def draft_article(actor, answer_id: int):
    session = db_session()
    found = questions.get_answer(session, actor, answer_id)
    article = answers.draft_article(session, actor, found, question_url(found.question))
    return article_to_dict(article, with_body=True), 201
