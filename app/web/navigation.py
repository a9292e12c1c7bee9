"""Links that domains put into the top bar of every page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavLink:
    """One top-bar link: the Flask endpoint, a translatable label, and the roles that see it (empty: everyone)."""

    endpoint: str
    label: str
    roles: tuple[str, ...] = ()
