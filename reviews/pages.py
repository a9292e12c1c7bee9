"""Reviews pages."""

from __future__ import annotations

from flask import Blueprint

from app.web.navigation import NavLink

pages = Blueprint("reviews", __name__, template_folder="templates")

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = []
