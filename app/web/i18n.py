"""Language choice: an explicit switch, then the browser's Accept-Language, then Simplified Chinese."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request
from flask import session as cookie_session
from flask.templating import Environment
from flask_babel import get_locale, get_translations, gettext
from flask_babel import lazy_gettext as _l
from jinja2 import Template, nodes, pass_context
from jinja2.runtime import Context
from jinja2.visitor import NodeTransformer

from app.errors import MilepostError, fill_in

LANG_PARAMETER = "lang"
ROLE_LABELS = {
    "driver": _l("Driver"),
    "shop_staff": _l("Service shop staff"),
    "dealer_staff": _l("Dealer staff"),
    "warehouse_staff": _l("Warehouse staff"),
    "factory_staff": _l("Factory staff"),
    "oem_admin": _l("OEM administrator"),
}


# The render's translations, looked up once per template by the context processor (app factory).
TEMPLATE_TRANSLATIONS = "_translations"


@pass_context
def _template_gettext(context: Context, string: str) -> str:
    """Translate a template's `_()` with the translations its render looked up once.

    Flask-Babel's own looks them up on every call (request context, locale, cache key): about 17 us, some
    thirty times on the scan page, half its rendering. A macro imported without context looks them up."""
    translations = context.get(TEMPLATE_TRANSLATIONS) or get_translations()
    return translations.ugettext(string)


class _ConstantTranslations(NodeTransformer):
    """Replace each `_('literal')` of a template by its translation, as the runtime `_()` would give it."""

    def __init__(self, translations: Any) -> None:
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name == "_"
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        translated = self.translations.ugettext(node.args[0].value)
        # Jinja's newstyle gettext: Markup(translation) when autoescaping, then `% variables` (escaping them).
        text = nodes.MarkSafeIfAutoescape(nodes.Const(translated), lineno=node.lineno)
        if not node.kwargs and "%" not in translated:
            return text
        variables = [nodes.Pair(nodes.Const(keyword.key), keyword.value) for keyword in node.kwargs]
        return nodes.Mod(text, nodes.Dict(variables, lineno=node.lineno), lineno=node.lineno)


def _rebinds_underscore(tree: nodes.Template) -> bool:
    """Tell whether a template gives `_` another meaning (a variable, a loop target, a macro argument, an import)."""
    if any(name.name == "_" and name.ctx != "load" for name in tree.find_all(nodes.Name)):
        return True
    if any(node.target == "_" for node in tree.find_all(nodes.Import)):
        return True
    for node in tree.find_all(nodes.FromImport):
        if any((name[1] if isinstance(name, tuple) else name) == "_" for name in node.names):
            return True
    return False


class TranslatedTemplates(Environment):
    """Flask's template environment, compiling each template once per locale with its literal `_()` translated.

    A page's `_('...')` calls were a third of its template time: each goes through Jinja's gettext wrappers
    and the catalogue on every render, about forty times a scan page. The locale's copy of the environment (a
    Jinja overlay with its own template cache) compiles `_('literal')` to the translated text itself, marked
    safe and `%`-formatted exactly as the runtime `_()` does; `_()` of an expression stays a runtime call. The
    base environment serves renders without a locale (no request) as before.
    """

    locale_key: str | None = None
    catalogue: Any = None

    def _localized(self) -> Environment:
        if self.locale_key is not None:
            return self
        try:
            locale = get_locale()
        except RuntimeError:  # outside a request, with no forced locale: the runtime `_()` decides
            locale = None
        if locale is None:
            return self
        key = str(locale)
        overlays: dict[str, TranslatedTemplates] = self.__dict__.setdefault("_overlays", {})
        overlay = overlays.get(key)
        if overlay is None:
            overlay = self.overlay(cache_size=getattr(self.cache, "capacity", 400))
            overlay.locale_key, overlay.catalogue, overlay._overlays = key, get_translations(), overlays
            overlays[key] = overlay
        return overlay

    def get_template(self, name: Any, parent: str | None = None, globals: Any = None) -> Template:  # noqa: A002
        localized = self._localized()
        if localized is self:
            return super().get_template(name, parent, globals)
        return localized.get_template(name, parent, globals)

    def select_template(self, names: Any, parent: str | None = None, globals: Any = None) -> Template:  # noqa: A002
        localized = self._localized()
        if localized is self:
            return super().select_template(names, parent, globals)
        return localized.select_template(names, parent, globals)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        if self.catalogue is not None and not _rebinds_underscore(tree):
            tree = _ConstantTranslations(self.catalogue).visit(tree)
        return tree


def install_template_gettext(app: Flask) -> None:
    """Make templates' `_()` use the render's translations (after Flask-Babel installed its callables)."""
    app.jinja_env.install_gettext_callables(
        gettext=_template_gettext,
        ngettext=lambda singular, plural, number: get_translations().ungettext(singular, plural, number),
        newstyle=True,
        pgettext=lambda context, string: get_translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, number: get_translations().unpgettext(
            context, singular, plural, number
        ),
    )


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


def local_date(value: datetime | str | None) -> str:
    """Return the calendar date of a UTC timestamp in the configured TIMEZONE (ISO 8601)."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date().isoformat()


def role_label(role: str) -> str:
    """Return a role's name in the page's language."""
    return str(ROLE_LABELS.get(role, role))


def error_text(error: MilepostError | dict | str) -> str:
    """Return an error's message in the page's language (a domain error, an HTTP error's body, or a text)."""
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        message = error.get("message", "")
        return gettext(message)
    # Translate the template alone, then fill in: gettext's own `%` would fail on user text in a detail.
    return fill_in(gettext(error.template), {"field": error.field, **error.details})
