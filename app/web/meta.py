"""Service endpoints: health, the OpenAPI document, its readable docs page, the home page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from app.web.context import db_session
from app.web.endpoints import REGISTRY
from app.web.openapi import build_document

pages = Blueprint("meta", __name__, template_folder="templates")

API_VERSION = "1.0.0"


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


@pages.route("/api/docs")
def api_docs():
    """Render the API reference from the OpenAPI document, with no external assets."""
    return render_template("api_docs.html", document=openapi_document())
