"""The answer to "what does this code mean for my truck": the lookup, the network's common fixes, articles."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from knowledge.articles import article_to_dict, articles_for_code
from knowledge.codes import parse_code
from knowledge.entries import Lookup, applicability_of, lookup_code
from knowledge.fixes import common_fixes


def answer_code(session: Session, text: str, vehicle: Vehicle | None = None) -> tuple[Lookup, list[dict], list]:
    """Return (lookup, common fixes, linked articles) for a typed code on `vehicle` (InvalidInput when unreadable)."""
    code = parse_code(text)
    lookup = lookup_code(session, code, applicability_of(session, vehicle))
    return lookup, common_fixes(session, code), articles_for_code(session, code)


def answer_to_dict(answer: tuple[Lookup, list[dict], list], language: str = "zh") -> dict:
    """Render an answer as the lookup API returns it."""
    lookup, fixes, articles = answer
    return {
        **lookup.to_dict(language),
        "common_fixes": fixes,
        "articles": [article_to_dict(article, language) for article in articles],
    }
