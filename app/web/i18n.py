"""Language choice: an explicit switch, then the browser's Accept-Language, then Simplified Chinese."""

from __future__ import annotations

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
    return request.accept_languages.best_match(locales) or current_app.config["DEFAULT_LOCALE"]


def remember_locale_choice() -> None:
    """Keep a `?lang=` switch in the session so the next pages stay in that language."""
    chosen = request.args.get(LANG_PARAMETER)
    if chosen in current_app.config["LOCALES"]:
        cookie_session[LANG_PARAMETER] = chosen


def language_switch_url(locale: str) -> str:
    """Return this page's URL with `?lang=` set to `locale`, keeping the other query parameters."""
    arguments = [(key, value) for key, value in request.args.items(multi=True) if key != LANG_PARAMETER]
    return f"{request.path}?{urlencode([*arguments, (LANG_PARAMETER, locale)])}"
