"""Service endpoints: health, the OpenAPI document, its readable docs page, the home page."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import gettext
from markupsafe import Markup, escape
from sqlalchemy import text

from app.web.context import db_session
from app.web.endpoints import FILLED_WORDS, REGISTRY
from app.web.openapi import build_document

pages = Blueprint("meta", __name__, template_folder="templates")

API_VERSION = "1.0.0"
# A Latin token left in a translated text is an identifier (a field value, a path, a setting): shown as code.
LATIN_TOKEN = re.compile(r"(?<![\w])([A-Za-z_][\w./:=?<>-]*[\w>]|[A-Za-z])")
CJK = re.compile(r"[\u4e00-\u9fff]")


def openapi_document() -> dict:
    """Return the OpenAPI document of the endpoints this app serves."""
    served = {rule.rule for rule in current_app.url_map.iter_rules()}
    specs = [spec for spec in REGISTRY if spec.path in served]
    return build_document(specs, "Milepost API", API_VERSION)


@pages.route("/healthz")
def healthz():
    """Report whether the app and its database answer."""
    try:
        db_session().execute(text("SELECT 1"))
        database = "ok"
    except Exception as error:  # noqa: BLE001 - any database failure means "unhealthy", with its reason
        database = f"error: {type(error).__name__}"
    healthy = database == "ok"
    return jsonify(
        {
            "status": "ok" if healthy else "degraded",
            "database": database,
            "dialect": db_session().get_bind().dialect.name,
        }
    ), (200 if healthy else 503)


@pages.route("/api/v1/openapi.json")
def openapi_json():
    """Serve the OpenAPI 3.1 document."""
    return jsonify(openapi_document())


def api_text(words: str) -> Markup:
    """Translate an API reference word (a summary, a field's description, a tag); identifiers in it as code.

    The document stays English for programs; app.web.extraction puts these words in the catalogues."""
    template, values = FILLED_WORDS.get(words, (words, {}))
    translated = (gettext(template) % values if values else gettext(template)) if words else ""
    if translated == words and not CJK.search(translated):
        return escape(translated)
    pieces = LATIN_TOKEN.split(translated)
    # re.split with one group: even pieces are the text between tokens, odd pieces the tokens.
    return Markup("").join(
        Markup("<code>%s</code>") % piece if index % 2 else escape(piece) for index, piece in enumerate(pieces)
    )


@pages.route("/api/docs")
def api_docs():
    """Render the API reference from the OpenAPI document in the reader's language, with no external assets."""
    return render_template("api_docs.html", document=openapi_document(), words=api_text)
