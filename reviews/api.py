"""Reviews JSON API."""

from __future__ import annotations

from app.web.endpoints import ApiBlueprint

api = ApiBlueprint("reviews_api", __name__, tag="Reviews")
