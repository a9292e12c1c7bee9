"""Language choice: an explicit switch, then the browser's Accept-Language, then Simplified Chinese."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from flask import current_app, request
from flask import session as cookie_session

LANG_PARAMETER = "lang"


def select_locale() -> str:
    """Return the locale for this request."""
    locales = current_app.config["LOCALES"]
    chosen = request.args.get(LANG_PARAMETER) or cookie_session.get(LANG_PARAMETER)
    if chosen in locales:
        return chosen
    return preferred_locale(request.accept_languages, locales) or current_app.config["DEFAULT_LOCALE"]


def preferred_locale(accepted: Iterable[tuple[str, float]], locales: list[str]) -> str | None:
    """Return the first of `locales` whose language the browser ranks highest ("en-GB" counts as "en").

    Werkzeug's best_match prefers any exact tag over a better-ranked regional one, so "en-GB,zh;q=0.5"
    would give Chinese; a driver whose phone says English first should get English.
    """
    for tag, quality in accepted:
        language = tag.replace("_", "-").split("-")[0].lower()
        if quality > 0 and language in locales:
            return language
    return None


def remember_locale_choice() -> None:
    """Keep a `?lang=` switch in the session so the next pages stay in that language."""
    chosen = request.args.get(LANG_PARAMETER)
    if chosen in current_app.config["LOCALES"]:
        cookie_session[LANG_PARAMETER] = chosen


def language_switch_url(locale: str) -> str:
    """Return this page's URL with `?lang=` set to `locale`, keeping the other query parameters."""
    arguments = [(key, value) for key, value in request.args.items(multi=True) if key != LANG_PARAMETER]
    return f"{request.path}?{urlencode([*arguments, (LANG_PARAMETER, locale)])}"
