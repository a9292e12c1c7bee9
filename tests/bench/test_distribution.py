"""Many OEMs on one installation (docs/scale.md, "Many OEMs"): Citus distributed by OEM, column `oem_id`.

No table carries `oem_id` yet: an installation serves one OEM. What is checked now is that the column can be
filled and kept for every table that would be distributed: each reaches one of the ROOTS (whose rows get
`oem_id` from the acting user's OEM when it is added) through foreign keys that are never NULL, so its
`oem_id` is that root's, copied down at insert (and backfilled by one join); or it is listed in OWN_COLUMN
with the reason it must be given `oem_id` at write time itself. Every other table is reference data
(replicated to every node) or stays on the coordinator. A new table must be placed in one of these classes,
and a listed table that gains a never-NULL path to a root must leave OWN_COLUMN.
"""

from __future__ import annotations

from sqlalchemy import Table

from app.db import Base
from milepost.model_registry import load_all_models

DISTRIBUTION_COLUMN = "oem_id"
# Rows that belong to one OEM by definition; they are given oem_id from the actor's OEM.
ROOTS = {"organizations", "users", "customers", "part_types"}
# Small and shared by every OEM: Citus reference tables (a copy on every node).
REFERENCE = {
    "highways": "the expressway network is the country's, not an OEM's",
    "network_versions": "stamps of the shared highway data (the shop stamp becomes per OEM with the column)",
    "fault_entries": "J1939/OBD-II fault codes are standards",
    "model_profiles": "truck model profiles shared by the knowledge base",
    "service_calendars": "China's working-day calendar",
    "service_calendar_exceptions": "China's holidays and make-up working days",
    "articles": "the knowledge base is published to every OEM's drivers",
    "article_links": "links between knowledge articles",
}
# Installation-wide state that stays on the coordinator (local tables).
LOCAL = {
    "attempts": "rate limits count per client address across OEMs (one attacker, every tenant)",
    "phone_codes": "texted sign-in codes belong to a phone number, before any OEM is known",
    "job_runs": "the job runner's own bookkeeping",
    "evaluation_runs": "certification runs are per OEM but few; a coordinator table keeps the job runner simple",
}
# Distributed tables with no never-NULL foreign key to a root: they get oem_id written with each row.
OWN_COLUMN = {
    "scans": "a scan of a code never issued has no part (part_id NULL): the OEM is the one whose GTIN prefix it bears",
    "alerts": "counterfeit and flood alerts have no part; the OEM is the scanned code's",
    "problem_reports": "reports from a scan page may name a counterfeit code with no part",
    "activity_log": "system entries have no actor; the OEM is the one the job ran for",
    "recalls": "a recall names part types through recalled_parts, not a key of its own",
    "crm_touchpoints": "a touchpoint may come before its customer is known (phone or openid only)",
    "service_requests": "a request may come from an anonymous phone, before any customer or organization",
    "service_events": "follows its request (kept on its own for partition pruning by oem_id)",
    "service_messages": "follows its request",
    "service_attachments": "follows its request",
    "service_request_links": "links two requests of one OEM",
    "service_sla_clocks": "follows its request",
    "service_surveys": "follows its request",
    "service_queues": "a queue may be the OEM desk's, with no organization",
    "service_canned_answers": "canned answers may be the OEM desk's, with no organization",
    "service_sla_policies": "policies are the OEM's configuration, not tied to an organization row",
    "coverage_rollups": "the OEM's kept coverage figure of its own network, one row per refresh",
    "maintenance_plans": "an OEM's service plans per model and duty cycle, not tied to an organization row",
    "maintenance_plan_items": "follows its plan",
}


def _tables() -> dict[str, Table]:
    load_all_models()
    return dict(Base.metadata.tables)


def path_to_root(tables: dict[str, Table], name: str, seen: frozenset[str] = frozenset()) -> list[str] | None:
    """Return a chain of never-NULL foreign keys from table `name` to a root ("table.column" steps), or None."""
    if name in ROOTS:
        return [name]
    for key in sorted(tables[name].foreign_keys, key=lambda key: key.parent.name):
        target = key.column.table.name
        if key.parent.nullable or target in seen or target == name:
            continue
        rest = path_to_root(tables, target, seen | {name})
        if rest is not None:
            return [f"{name}.{key.parent.name}", *rest]
    return None


def test_every_table_is_placed_for_distribution_by_oem():
    tables = _tables()
    placed = ROOTS | set(REFERENCE) | set(LOCAL) | set(OWN_COLUMN)

    unplaced = sorted(name for name in tables if name not in placed and path_to_root(tables, name) is None)

    assert unplaced == [], f"place these tables in tests/bench/test_distribution.py (docs/scale.md): {unplaced}"


def test_the_classes_are_disjoint_and_name_real_tables():
    tables = _tables()
    classes = [ROOTS, set(REFERENCE), set(LOCAL), set(OWN_COLUMN)]

    assert sum(len(names) for names in classes) == len(set().union(*classes))
    assert set().union(*classes) <= set(tables)


def test_tables_listed_as_needing_their_own_column_really_have_no_path_to_a_root():
    tables = _tables()

    derivable = sorted(name for name in OWN_COLUMN if path_to_root(tables, name) is not None)

    assert derivable == [], f"these reach a root through never-NULL keys; take them out of OWN_COLUMN: {derivable}"


def test_the_largest_tables_derive_their_oem_from_a_root():
    """The year's bulk (parts, custody, sales, bookings, reviews, vehicles) is co-located by the copied column."""
    tables = _tables()

    for name in ("parts", "custody_events", "custody_event_parts", "sales", "installations", "bookings", "reviews"):
        assert path_to_root(tables, name) is not None, name
    assert all(DISTRIBUTION_COLUMN not in table.columns for table in tables.values()), "update docs/scale.md"
