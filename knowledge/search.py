"""Chinese (and English) text search by substring over a folded `search_text` column, on both databases.

Chinese is written without spaces, so a word such as 机油压力 or 尿素 is found as a substring of the folded text
rather than by a tokenizer and its dictionary. On PostgreSQL a pg_trgm GIN index (created by the knowledge
migration) serves `LIKE '%...%'` for terms of three or more characters; shorter terms and SQLite scan, which is
fine for a knowledge base of thousands of rows. Community builds its search on `fold` and `text_matches`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, true

from app.errors import InvalidInput

MAX_QUERY = 100
MAX_TERMS = 8


def fold(*parts: str | None) -> str:
    """Return the parts as one searchable text: NFKC (full-width to ASCII), case-folded, single spaces."""
    text = " ".join(part for part in parts if part)
    text = unicodedata.normalize("NFKC", text).casefold().replace("\x00", "")
    return re.sub(r"\s+", " ", text).strip()


def query_terms(query: str) -> list[str]:
    """Return the folded terms of a search query; every one must appear in a match."""
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        raise InvalidInput("a search has at most %(maximum)s characters", field="q", maximum=MAX_QUERY)
    terms = [term for term in fold(query).split(" ") if term]
    if not terms:
        raise InvalidInput("type what to search for", field="q")
    return terms[:MAX_TERMS]


def text_matches(column: ColumnElement, terms: Iterable[str]) -> ColumnElement[bool]:
    """Return the condition "`column` contains every term" (LIKE with %, _ and the escape character escaped)."""
    conditions = [column.contains(term, autoescape=True) for term in terms]
    return and_(*conditions) if conditions else true()


def rank(title: str, terms: list[str]) -> int:
    """Return a sort key: 0 when every term is in the title, 1 otherwise (matches in the text come after)."""
    folded = fold(title)
    return 0 if all(term in folded for term in terms) else 1
