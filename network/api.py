"""Network JSON API."""

from __future__ import annotations

from app.web.endpoints import ApiBlueprint

api = ApiBlueprint("network_api", __name__, tag="Network")
