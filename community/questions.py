"""Questions: asking (with tags, the keyword filter and review for new accounts), who sees what, search, lists."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.crm.activity import record_activity
from app.crm.customers import find_customer_for_user
from app.crm.regions import find_province
from app.crm.touchpoints import Channel as TouchChannel
from app.crm.touchpoints import record_touchpoint
from app.errors import Conflict, InvalidInput, NotFound
from app.security import Role, User, is_oem
from community.filtering import find_terms, mask_phones
from community.models import Answer, HoldReason, PostStatus, Question, QuestionTag, TagKind
from community.settings import CommunitySettings
from community.standing import ensure_may_post, needs_review, poster_province
from knowledge.articles import code_link
from knowledge.codes import FaultCode, parse_code
from knowledge.search import fold, query_terms, text_matches
from traceability.models import PartType

MIN_TITLE = 4
MAX_TITLE = 150
MAX_BODY = 5000
MAX_TAGS = 10
MAX_TAG = 100


def clean_text(value: object, field: str, maximum: int, minimum: int = 1) -> str:
    """Return the trimmed text of a form field, or raise InvalidInput naming the field."""
    if not isinstance(value, str):
        raise InvalidInput("%(field)s must be text", field=field)
    if "\x00" in value:
        raise InvalidInput("the text contains a NUL character", field=field)
    value = value.strip()
    if len(value) < minimum:
        raise InvalidInput("%(field)s needs at least %(minimum)s characters", field=field, minimum=minimum)
    if len(value) > maximum:
        raise InvalidInput("%(field)s has at most %(maximum)s characters", field=field, maximum=maximum)
    return value


def digest(*parts: str) -> str:
    """Return the SHA-256 of the texts: the same submission twice has the same digest."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _code_tag(text: str) -> str:
    try:
        return code_link(parse_code(text))
    except InvalidInput as problem:
        raise InvalidInput(problem.template, field="codes", **problem.details) from problem


def parse_tags(session: Session, codes: list[str], part_numbers: list[str], models: list[str]) -> list[tuple[str, str]]:
    """Return the question's tags: codes in knowledge's short form, known part numbers, vehicle models."""
    tags = [(TagKind.CODE, _code_tag(text)) for text in codes if isinstance(text, str) and text.strip()]
    for number in part_numbers:
        number = clean_text(number, "part_numbers", MAX_TAG)
        if session.scalar(select(PartType.id).where(PartType.part_number == number)) is None:
            raise InvalidInput("no part type with that part number", field="part_numbers")
        tags.append((TagKind.PART_TYPE, number))
    tags += [(TagKind.MODEL, clean_text(model, "models", MAX_TAG)) for model in models]
    tags = list(dict.fromkeys(tags))
    if len(tags) > MAX_TAGS:
        raise InvalidInput("a question has at most %(maximum)s tags", field="codes", maximum=MAX_TAGS)
    return tags


def hold_for(session: Session, actor: User, settings: CommunitySettings, now: datetime, *texts: str):
    """Return (status, hold reason, matched terms) for a new post by `actor`."""
    terms = find_terms(settings.keywords, *texts)
    if terms:
        return PostStatus.HELD, HoldReason.KEYWORD, terms
    if needs_review(session, actor, settings, now):
        return PostStatus.HELD, HoldReason.NEW_ACCOUNT, []
    return PostStatus.PUBLISHED, None, []


def insert_once(session: Session, record: Question | Answer, message: str) -> None:
    """Insert `record`; the same submission already stored (a double click) is a Conflict, not a crash."""
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError as error:
        raise Conflict(message, field="body") from error


def ask_question(
    session: Session,
    actor: User | None,
    title: str,
    body: str,
    settings: CommunitySettings,
    now: datetime,
    *,
    codes: list[str] = (),
    part_numbers: list[str] = (),
    models: list[str] = (),
    client: str | None = None,
) -> Question:
    """Post a question: published at once, or held for review (a new account, a keyword hit)."""
    actor = ensure_may_post(session, actor)
    title = clean_text(title, "title", MAX_TITLE, MIN_TITLE)
    body = clean_text(body, "body", MAX_BODY, 0)
    tags = parse_tags(session, list(codes), list(part_numbers), list(models))
    status, reason, terms = hold_for(session, actor, settings, now, title, body)
    question = Question(
        author_id=actor.id,
        title=title,
        body=body,
        digest=digest(title, body),
        status=status,
        hold_reason=reason,
        held_terms=",".join(terms)[:500],
        province=poster_province(session, actor, client, settings),
        search_text=fold(title, body, *(value for _kind, value in tags)),
        created_at=now,
        published_at=now if status == PostStatus.PUBLISHED else None,
        tags=[QuestionTag(kind=kind, value=value) for kind, value in tags],
    )
    insert_once(session, question, "you have asked this question already")
    record_activity(session, actor, "community.question_asked", "question", question.id, status=status, hold=reason)
    customer = find_customer_for_user(session, actor)
    if customer is not None:
        # A driver asking about a fault or a part shows intent: the CRM's leads take it from here (issue 14).
        record_touchpoint(
            session, channel=TouchChannel.FORUM, kind="question", source_type="community_question",
            source_id=question.id, customer=customer, summary=f"community question: {title[:80]}", occurred_at=now,
        )  # fmt: skip
    return question


def may_see(actor: User | None, post: Question | Answer) -> bool:
    """Tell whether the actor sees the post: published ones everyone, held and hidden ones their author and OEM."""
    if post.status == PostStatus.PUBLISHED:
        return True
    return actor is not None and (actor.id == post.author_id or is_oem(actor))


def get_question(session: Session, actor: User | None, question_id: int) -> Question:
    """Return the question if the actor may see it (404 otherwise, so held posts cannot be discovered)."""
    question = session.get(Question, question_id)
    if question is None or not may_see(actor, question):
        raise NotFound("no such question", field="question")
    return question


def get_answer(session: Session, actor: User | None, answer_id: int) -> Answer:
    """Return the answer if the actor may see it and its question (404 otherwise)."""
    answer = session.get(Answer, answer_id)
    if answer is None or not may_see(actor, answer) or not may_see(actor, answer.question):
        raise NotFound("no such answer", field="answer")
    return answer


def code_values(text: str) -> list[str]:
    """Return the tag values a code filter matches: the code itself and, for SPN/FMI, the SPN alone."""
    code = parse_code(text)
    return list(dict.fromkeys([code_link(code), code_link(FaultCode(code.scheme, code.code))]))


def select_questions(
    actor: User | None, *, query: str | None = None, code: str | None = None, solved: bool | None = None
) -> Select:
    """Return the newest-first query of questions the actor may list: published ones and the actor's own."""
    visible = Question.status == PostStatus.PUBLISHED
    if actor is not None:
        visible = or_(visible, Question.author_id == actor.id)
    # A list shows each question's tags, poster and answer count: loaded in three queries, not three per row.
    loads = (selectinload(Question.tags), selectinload(Question.author), selectinload(Question.answers))
    statement = select(Question).options(*loads).where(visible)
    if query:
        statement = statement.where(text_matches(Question.search_text, query_terms(query)))
    if code:
        tagged = select(QuestionTag.question_id).where(
            and_(QuestionTag.kind == TagKind.CODE, QuestionTag.value.in_(code_values(code)))
        )
        statement = statement.where(Question.id.in_(tagged))
    if solved is not None:
        statement = statement.where(Question.solved_at.is_not(None) if solved else Question.solved_at.is_(None))
    return statement.order_by(Question.created_at.desc(), Question.id.desc())


def search_questions(session: Session, actor: User | None, query: str, limit: int = 20) -> list[Question]:
    """Return the questions containing every term of `query` (title, text, tags), newest first."""
    return list(session.scalars(select_questions(actor, query=query).limit(limit)))


def poster_to_dict(post: Question | Answer, actor: User | None) -> dict:
    """Describe who posted: the kind of account and the province (IP属地), never a name or a phone."""
    role = post.author.role
    province = find_province(post.province)
    return {
        "kind": "oem" if role == Role.OEM_ADMIN else "driver" if role == Role.DRIVER else "shop",
        "province": post.province,
        "province_zh": province.name_zh if province is not None else post.province,
        "is_you": actor is not None and actor.id == post.author_id,
    }


def _moderation(post: Question | Answer, actor: User | None) -> dict:
    body: dict = {}
    if post.status != PostStatus.PUBLISHED and actor is not None:
        body["moderation_reason"] = post.moderation_reason
        if is_oem(actor):
            body.update(hold_reason=post.hold_reason, held_terms=[t for t in post.held_terms.split(",") if t])
    return body


def answer_to_dict(answer: Answer, actor: User | None) -> dict:
    """Render an answer for its viewer (typed phone numbers masked)."""
    return {
        "id": answer.id,
        "question_id": answer.question_id,
        "body": mask_phones(answer.body),
        "status": answer.status,
        "poster": poster_to_dict(answer, actor),
        "created_at": answer.created_at.isoformat(),
        "accepted": answer.accepted_at is not None,
        "oem_verified": answer.oem_verified_at is not None,
        "article": answer.article.slug if answer.article is not None else None,
        **_moderation(answer, actor),
    }


def visible_answers(question: Question, actor: User | None) -> list[Answer]:
    """Return the answers the actor sees, the accepted one first, then OEM-verified ones, then oldest first."""
    shown = [answer for answer in question.answers if may_see(actor, answer)]
    return sorted(shown, key=lambda answer: (answer.accepted_at is None, answer.oem_verified_at is None, answer.id))


def question_to_dict(question: Question, actor: User | None, with_answers: bool = False) -> dict:
    """Render a question for its viewer; with its answers, only those the viewer may see."""
    body = {
        "id": question.id,
        "title": question.title,
        "body": mask_phones(question.body),
        "status": question.status,
        "solved": question.solved_at is not None,
        "tags": [{"kind": tag.kind, "value": tag.value} for tag in question.tags],
        "poster": poster_to_dict(question, actor),
        "created_at": question.created_at.isoformat(),
        "answer_count": sum(1 for answer in question.answers if answer.status == PostStatus.PUBLISHED),
        **_moderation(question, actor),
    }
    if with_answers:
        body["answers"] = [answer_to_dict(answer, actor) for answer in visible_answers(question, actor)]
    return body
