"""What the community holds about a person, for app.crm.personal_data.

Posts are community knowledge that others answered and built on (like reviews, never deleted): erased, they stay
under the anonymous account with the person's name and number scrubbed from their text.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.personal_data import Person, record_to_dict, register_eraser, register_exporter
from community.models import Answer, Question, Report


def export_community(session: Session, person: Person) -> dict:
    """Return the person's questions, answers and reports."""
    if person.user_id is None:
        return {"questions": [], "answers": [], "reports": []}
    questions = session.scalars(select(Question).where(Question.author_id == person.user_id).order_by(Question.id))
    answers = session.scalars(select(Answer).where(Answer.author_id == person.user_id).order_by(Answer.id))
    reports = session.scalars(select(Report).where(Report.reporter_id == person.user_id).order_by(Report.id))
    return {
        "questions": [record_to_dict(row, without=("search_text", "digest")) for row in questions],
        "answers": [record_to_dict(row, without=("digest",)) for row in answers],
        "reports": [record_to_dict(row, without=("closed_by_id",)) for row in reports],
    }


def erase_community(session: Session, person: Person) -> dict[str, int]:
    """Scrub the person's name and number from their posts; drop the notes of their reports."""
    if person.user_id is None:
        return {"posts": 0}
    questions = list(session.scalars(select(Question).where(Question.author_id == person.user_id)))
    for question in questions:
        question.title, question.body = person.scrub(question.title), person.scrub(question.body)
        question.search_text = person.scrub(question.search_text)
    answers = list(session.scalars(select(Answer).where(Answer.author_id == person.user_id)))
    for answer in answers:
        answer.body = person.scrub(answer.body)
    for report in session.scalars(select(Report).where(Report.reporter_id == person.user_id)):
        report.note = ""
    return {"posts": len(questions) + len(answers)}


register_exporter("community", export_community)
register_eraser("community", erase_community)
