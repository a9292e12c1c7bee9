"""Imports every domain's models so that metadata (migrations, tests) sees all tables."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "app.security",
    "app.one_time_codes",
    "app.jobs",
    "app.crm.models",
    "traceability.models",
    "network.models",
    "reviews.models",
    "knowledge.models",
    "community.models",
    "service.models",
    "leads.models",
    "maintenance.models",
)


def load_all_models() -> None:
    """Import all model modules (their import registers the tables on Base.metadata)."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
