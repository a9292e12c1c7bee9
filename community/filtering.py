"""The keyword filter: an Aho-Corasick automaton over the configured terms finds them in one pass over a post.

Posters dodge a plain substring check by spacing or punctuating the characters (`违 禁 词`, `违*禁*词`) or by
typing full-width forms, so both the terms and the post are normalized first: NFKC and case folding
(knowledge.search.fold), then every character that is not a letter or digit removed. Traditional-to-simplified
conversion is not done (the OEM's lexicon can list both forms). A match holds the post for a moderator; nothing
is refused outright.
"""

from __future__ import annotations

import re
from functools import lru_cache

import ahocorasick

from knowledge.search import fold

_NOT_WORD = re.compile(r"[\W_]+")
# A mainland mobile number typed into a post: shown as 138****5678, as Milepost masks phones everywhere.
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def normalize(text: str) -> str:
    """Return `text` folded and stripped of everything but letters and digits (spaces, punctuation, emoji)."""
    return _NOT_WORD.sub("", fold(text))


@lru_cache(maxsize=4)
def _automaton(terms: tuple[str, ...]) -> ahocorasick.Automaton | None:
    automaton = ahocorasick.Automaton()
    for term in terms:
        key = normalize(term)
        if key:
            automaton.add_word(key, term)
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def find_terms(terms: tuple[str, ...], *texts: str) -> list[str]:
    """Return the configured terms found in any of `texts`, each once, in the order of first appearance."""
    automaton = _automaton(terms)
    if automaton is None:
        return []
    found: dict[str, None] = {}
    for text in texts:
        for _end, term in automaton.iter(normalize(text or "")):
            found.setdefault(term)
    return list(found)


def mask_phones(text: str) -> str:
    """Return `text` with every mobile number in it masked to its first three and last four digits."""
    return _PHONE.sub(r"\1****\3", text or "")
