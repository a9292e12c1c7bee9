"""Scan verification, by its old module name: the verdict rules are in verdicts.py, the scan operation in
scans.py, its rendering in scan_render.py and the settings in settings.py (re-exported here for importers)."""

from __future__ import annotations

from traceability.counterfeit_budget import COUNTERFEIT_BUCKET, COUNTERFEIT_WINDOW
from traceability.scan_render import add_months, mask_vin, outcome_to_dict, warranty_status
from traceability.scans import (
    FLOOD_CAUSE,
    coarsen_address,
    find_installation,
    find_last_sale,
    find_part,
    scan_and_render,
    verify_scan,
)
from traceability.settings import ClonePolicy, read_settings
from traceability.verdicts import (
    BUY_INTENT,
    MIN_TRAVEL_HOURS,
    MIN_TRAVEL_KM,
    PERSISTENT_SIGNALS,
    PRE_INSTALL_STATES,
    ScanOutcome,
    clone_signals,
    decide,
    recent_cities,
)

__all__ = [
    "BUY_INTENT",
    "COUNTERFEIT_BUCKET",
    "COUNTERFEIT_WINDOW",
    "FLOOD_CAUSE",
    "MIN_TRAVEL_HOURS",
    "MIN_TRAVEL_KM",
    "PERSISTENT_SIGNALS",
    "PRE_INSTALL_STATES",
    "ClonePolicy",
    "ScanOutcome",
    "add_months",
    "clone_policy",
    "clone_signals",
    "coarsen_address",
    "decide",
    "find_installation",
    "find_last_sale",
    "find_part",
    "mask_vin",
    "outcome_to_dict",
    "recent_cities",
    "scan_and_render",
    "verify_scan",
    "warranty_status",
]


def clone_policy(config: dict) -> ClonePolicy:
    """Read the clone thresholds and the counterfeit-alert budget from the settings."""
    return read_settings(config).clone
