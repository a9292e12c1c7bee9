"""The knowledge-base step of triage: answers that may solve a driver's problem before a person is needed.

The knowledge domain (fault codes, entries, articles) is built in parallel; until it is on main this returns
no answers, and `register_answer_source` lets the shell (or a test) plug a source in. When knowledge lands,
this module calls its search directly (service sits above knowledge in the layers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class KnowledgeAnswer:
    """One knowledge-base answer shown to a driver before the request goes to a person."""

    title: str
    summary: str
    url: str | None = None
    code: str | None = None


AnswerSource = Callable[[Session, str, Sequence[str], str], list[KnowledgeAnswer]]
_sources: list[AnswerSource] = []


def register_answer_source(source: AnswerSource) -> None:
    """Add a source of answers (text, fault codes, locale -> answers); the first that answers wins."""
    if source not in _sources:
        _sources.append(source)


def unregister_answer_source(source: AnswerSource) -> None:
    """Remove a source added with register_answer_source."""
    if source in _sources:
        _sources.remove(source)


def find_knowledge_answers(
    session: Session, text: str, codes: Sequence[str] = (), locale: str = "zh", limit: int = 3
) -> list[KnowledgeAnswer]:
    """Return up to `limit` answers for a driver's words and fault codes."""
    for source in _sources:
        answers = source(session, text, codes, locale)
        if answers:
            return answers[:limit]
    return []
