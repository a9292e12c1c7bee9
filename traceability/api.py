"""Traceability JSON API."""

from __future__ import annotations

from app.web.endpoints import ApiBlueprint

api = ApiBlueprint("traceability_api", __name__, tag="Traceability")
