"""Verdict rules: pure functions from a part's kept state and one scan to the verdict, its reasons and signals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.geo import LatLon, great_circle_km
from traceability.models import PartState, Verdict
from traceability.scan_storage import SCAN_STATE, PageRead, ScannedPart
from traceability.settings import ClonePolicy

# Coarsened positions are about 1 km apart and phones drift: below this no travel speed is computed.
MIN_TRAVEL_KM = 5.0
MIN_TRAVEL_HOURS = 1 / 360
PRE_INSTALL_STATES = frozenset({PartState.PRODUCED, PartState.IN_TRANSIT, PartState.IN_STOCK, PartState.SOLD})
# The one table of persistent signals: an alert of one of these causes keeps the part suspect on every later
# scan, with this reason, until the OEM closes it. Each cause has a bit in `parts.alert_signals` (its position
# here), so a scan reads them with the part instead of querying alerts: APPEND ONLY.
PERSISTENT_SIGNALS = {
    "impossible_travel": "impossible_travel",
    "many_cities": "many_cities",
    "far_from_chain": "far_from_chain",
    "activation_after_install": "activation_after_install",
    "activation_replayed": "activation_after_install",
    "resale_after_install": "offered_after_install",
    "resale_after_removal": "offered_after_removal",
}
SIGNAL_CAUSES = tuple(PERSISTENT_SIGNALS)
SIGNAL_BITS = {cause: 1 << index for index, cause in enumerate(SIGNAL_CAUSES)}
BUY_INTENT = "buy"
# Signals read from the scan's own position: from an unauthenticated browser they may be spoofed.
POSITION_SIGNALS = frozenset({"impossible_travel", "many_cities", "far_from_chain"})
UNCORROBORATED_CAUSE = "uncorroborated_clone_signal"
# Every reason a verdict may carry, as the scan page must say it in words (tests hold the rules to this list):
# the code's identity, the clone and resale signals, and the part's own state.
IDENTITY_REASONS = ("malformed_code", "foreign_origin", "missing_tag", "bad_tag", "gtin_mismatch", "unknown_serial")
SIGNAL_REASONS = (
    "impossible_travel",
    "many_cities",
    "far_from_chain",
    "activation_after_install",
    "offered_after_install",
    "offered_after_removal",
)
STATE_REASONS = ("destroyed", "recalled", "installed")
SCAN_REASONS = IDENTITY_REASONS + SIGNAL_REASONS + STATE_REASONS


def corroborated(part: ScannedPart, by_staff: bool, policy: ClonePolicy) -> bool:
    """Tell whether this scan's position signals may change the public verdict: the position comes from a staff
    scan, or the part has been scanned more than `policy.corroboration_scans` times (this scan included)."""
    return by_staff or part.scan_count + 1 > policy.corroboration_scans


def split_uncorroborated(signals: list[str], trusted: bool, alert_signals: int = 0) -> tuple[list[str], list[str]]:
    """Return (signals for the verdict, position signals held back for the OEM only).

    A signal the part already carries from an open alert (`alert_signals`) was corroborated when it was raised,
    so it is never held back."""
    if trusted:
        return signals, []
    kept = {PERSISTENT_SIGNALS[cause] for cause in signal_causes(alert_signals)}
    held = [signal for signal in signals if signal in POSITION_SIGNALS and signal not in kept]
    return [signal for signal in signals if signal not in held], held


def signal_causes(bits: int) -> list[str]:
    """Return the causes whose bits are set in `parts.alert_signals`."""
    return [cause for cause, bit in SIGNAL_BITS.items() if bits & bit]


@dataclass
class ScanOutcome:
    """A verdict with its reasons, the scan's view of the part (a ScannedPart) unless the code is
    counterfeit, and what was stored: when, and the city and province of the coarsened position."""

    verdict: str
    reasons: list[str]
    part: ScannedPart | None
    scanned_at: datetime
    city: str | None
    province: str | None
    # What the scan read and wrote for the scan page besides the verdict, when it was asked to (PostgreSQL).
    page: PageRead | None = None


def recent_cities(kept: list | None, window_start: int) -> dict[str, int]:
    """Return the kept cities last seen in a scan numbered above `window_start`, with that number."""
    return {city: number for city, number in kept or () if number > window_start}


def clone_signals(
    part: ScannedPart,
    position: LatLon | None,
    city: str | None,
    intent: str | None,
    now: datetime,
    policy: ClonePolicy,
) -> list[str]:
    """Return the reasons to think this code was copied or the part is being passed off (empty: none).

    Reads only the part's kept state: the history is its last `policy.history` stored scans, numbered
    1..scan_count, so "in the history" is "numbered above scan_count - history"."""
    signals: list[str] = []
    window_start = part.scan_count - policy.history
    if position is not None and part.last_scan_number is not None and part.last_scan_number > window_start:
        km = great_circle_km(position.lat, position.lon, part.last_scan_lat, part.last_scan_lon)
        hours = max((now - part.last_scan_at).total_seconds() / 3600, MIN_TRAVEL_HOURS)
        if km > MIN_TRAVEL_KM and km / hours > policy.max_speed_kmh:
            signals.append("impossible_travel")
    if part.state in PRE_INSTALL_STATES:
        cities = recent_cities(part.scan_cities, window_start).keys() | ({city} if city else set())
        if len(cities) > policy.max_cities:
            signals.append("many_cities")
        if position is not None:
            # The factory, and every located organization the part's custody events named.
            places = [(part.factory_lat, part.factory_lon)] if part.factory_lat is not None else []
            places += [tuple(place) for place in part.chain_places or ()]
            if places and min(great_circle_km(position.lat, position.lon, *p) for p in places) > policy.far_km:
                signals.append("far_from_chain")
    if intent == BUY_INTENT and part.state in (PartState.INSTALLED, PartState.REMOVED):
        signals.append("offered_after_install" if part.state == PartState.INSTALLED else "offered_after_removal")
    for cause in signal_causes(part.alert_signals):
        signal = PERSISTENT_SIGNALS[cause]
        if signal not in signals:
            signals.append(signal)
    return signals


def scan_state(
    part: ScannedPart, position: LatLon | None, city: str | None, now: datetime, policy: ClonePolicy
) -> dict:
    """Return the part's kept state with this scan in it: its number, the last located scan, the recent cities."""
    number = part.scan_count + 1
    state = {name: getattr(part, name) for name in SCAN_STATE}
    state["scan_count"] = number
    if position is not None:
        state.update(last_scan_number=number, last_scan_lat=position.lat, last_scan_lon=position.lon, last_scan_at=now)
    if city:
        cities = recent_cities(part.scan_cities, number - policy.history)
        cities[city] = number
        newest = sorted(cities.items(), key=lambda item: item[1], reverse=True)[: policy.max_cities + 1]
        state["scan_cities"] = [list(item) for item in newest]
    return state


def decide(part, identity_reasons: list[str], signals: list[str]) -> tuple[str, list[str]]:
    """Return the verdict and its reasons (DESIGN.md section 6), worst first; `part` has state and recall_id."""
    if identity_reasons or part is None:
        return Verdict.COUNTERFEIT, identity_reasons
    if part.state == PartState.DESTROYED:
        return Verdict.VOID, ["destroyed"]
    if part.recall_id is not None:
        return Verdict.RECALLED, ["recalled", *signals]
    if signals:
        return Verdict.SUSPECT, signals
    if part.state == PartState.INSTALLED:
        return Verdict.INSTALLED, ["installed"]
    return Verdict.GENUINE, []
