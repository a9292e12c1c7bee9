"""Network pages: find a shop, shops ahead, shop detail and booking, my bookings, shop console, OEM coverage
and roadside desk."""

from __future__ import annotations

import re

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from app.security import Role
from app.web.auth import page_actor  # noqa: F401 - the network's views import it from here
from app.web.navigation import NavLink
from network.settings import network_settings

pages = Blueprint(
    "network",
    __name__,
    template_folder="../templates",
    static_folder="../static",
    static_url_path="/network/static",
)

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = [
    NavLink("network.find_shops", "Find a shop"),
    NavLink("network.ahead", "Shops ahead"),
    NavLink("network.my_bookings", "My bookings", (Role.DRIVER,)),
    NavLink("network.ask_for_help", "Roadside help", (Role.DRIVER,)),
    NavLink("network.console", "Shop console", (Role.SHOP_STAFF,)),
    NavLink("network.coverage_page", "Coverage", (Role.OEM_ADMIN,)),
    NavLink("network.roadside_desk", "Roadside desk", (Role.OEM_ADMIN,)),
]


@pages.record_once
def _check_settings(state) -> None:
    """Stop the app at start-up on a bad network setting (ConfigError names it), not at the first booking."""
    network_settings(state.app.config)


# What each step says once done (a flashed message on the page it returns to).
DONE_MESSAGES = {
    "confirm": _l("Booking confirmed."),
    "reject": _l("Booking rejected; the bay is free again."),
    "check-in": _l("Checked in."),
    "complete": _l("Service completed."),
    "no-show": _l("Recorded as a no-show."),
    "cancel": _l("Booking cancelled."),
    "accept": _l("Roadside job accepted: the driver sees you are coming."),
    "decline": _l("Roadside job declined."),
    "complete-job": _l("Roadside job completed."),
}

# Day names as opening hours are written ("mon-fri 08:00-18:00"), shown in the page's language.
DAY_LABELS = {
    "mon": _l("Mon"),
    "tue": _l("Tue"),
    "wed": _l("Wed"),
    "thu": _l("Thu"),
    "fri": _l("Fri"),
    "sat": _l("Sat"),
    "sun": _l("Sun"),
}
_DAY = re.compile(r"\b(" + "|".join(DAY_LABELS) + r")\b")


@pages.app_template_filter("hours_label")
def hours_label(text: str) -> str:
    """Return opening hours text with its day names in the page's language."""
    return _DAY.sub(lambda found: str(DAY_LABELS[found.group(1)]), text or "")


# The views register themselves on `pages` when imported.
from network.pages import console, coverage, desk, driver, roadside, vehicle  # noqa: E402, F401
