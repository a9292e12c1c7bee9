"""Who may service a vehicle now: a registry a higher layer fills, because traceability cannot name network.

Traceability and network are peers, so traceability does not know bookings or roadside jobs. The shell registers
a presence check at app creation (network's answer: a checked-in booking or an accepted roadside job of that
vehicle at that organization's shop); with nothing registered no organization is "at" a vehicle.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

# (session, organization_id, vehicle_id) -> the vehicle is at that organization now.
VehiclePresence = Callable[[Session, int, int], bool]

_PRESENCE: dict[str, VehiclePresence] = {}


def register_vehicle_presence(check: VehiclePresence, key: str = "default") -> None:
    """Add (or replace, by key) a check that tells whether a vehicle is at an organization now."""
    _PRESENCE[key] = check


def vehicle_is_at(session: Session, organization_id: int, vehicle_id: int) -> bool:
    """Tell whether any registered check says the vehicle is at the organization now."""
    return any(check(session, organization_id, vehicle_id) for _key, check in sorted(_PRESENCE.items()))
