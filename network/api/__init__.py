"""Network JSON API: highways, shops and search, bookings, roadside assistance, coverage."""

from __future__ import annotations

from app.web.endpoints import ApiBlueprint

api = ApiBlueprint("network_api", __name__, tag="Network")

# The views register themselves on `api` when imported.
from network.api import assistance, bookings, coverage, shops  # noqa: E402, F401
