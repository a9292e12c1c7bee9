"""Traceability jobs for the worker: the sale-price ranges that scan pages show are recomputed off the request,
the factory's large batches are commissioned off the request with their progress, the owners of the trucks a
large recall affects are told, next months' partitions are made ahead and old scan locations coarsened."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date, zone
from app.crm.models import Organization
from app.errors import NotFound
from app.jobs import JobContext, JobRun, JobState, job
from app.security import User
from app.signing import KeyRing
from app.web.context import KEYRING_KEY
from traceability.catalogue import get_part_type
from traceability.commissioning import COMMISSION_JOB, commission_batch
from traceability.models import Recall
from traceability.partitions import (
    analyze_partitioned_tables,
    apply_location_retention,
    count_default_rows,
    create_partitions_ahead,
)
from traceability.recalls import NOTIFY_JOB, tell_owners
from traceability.records import refresh_sale_price_ranges
from traceability.settings import LocationRetention, read_settings

RETENTION_JOB = "traceability.scan_location_retention"


@job("traceability.refresh_sale_price_ranges", every=timedelta(hours=1))
def sale_price_ranges(context: JobContext) -> dict:
    """Recompute every part type's 10th-90th percentile of recent sale prices (a scan only reads the result)."""
    return {"part_types": refresh_sale_price_ranges(context.session)}


@job("traceability.create_partitions", every=timedelta(days=1))
def create_partitions(context: JobContext) -> dict:
    """Keep this month's and the next PARTITION_MONTHS_AHEAD months' partitions ready (PostgreSQL; idempotent)."""
    months = read_settings(context.settings).partition_months_ahead
    created = create_partitions_ahead(context.session, context.now, months)
    analyze_partitioned_tables(context.session)
    return {"created": created, "default_rows": count_default_rows(context.session)}


def _previous_cutoff(session: Session, retention: LocationRetention) -> datetime | None:
    """Return the cutoff of the last successful retention run under the same setting (its older scans are done)."""
    result = session.scalar(
        select(JobRun.result)
        .where(JobRun.name == RETENTION_JOB, JobRun.state == JobState.SUCCEEDED)
        .order_by(JobRun.finished_at.desc())
        .limit(1)
    )
    if not result or not result.get("cutoff") or result.get("setting") != [retention.months, retention.mode]:
        return None
    return datetime.fromisoformat(result["cutoff"])


@job(RETENTION_JOB, every=timedelta(days=1))
def scan_location_retention(context: JobContext) -> dict:
    """Coarsen (or drop) the locations of scans older than SCAN_LOCATION_MONTHS, as SCAN_LOCATION_AFTER says."""
    retention = read_settings(context.settings).location_retention
    since = _previous_cutoff(context.session, retention)
    changed, cutoff = apply_location_retention(context.session, context.now, retention, since)
    return {
        "scans": changed,
        "cutoff": cutoff.isoformat() if cutoff else None,
        "setting": [retention.months, retention.mode],
    }


@job(COMMISSION_JOB)
def commission_batch_job(context: JobContext) -> dict:
    """Commission a large batch from the factory's form off the request, reporting progress as parts are written."""
    session = context.session
    payload = context.payload
    run = session.get(JobRun, context.run_id) if context.run_id is not None else None
    actor = session.get(User, run.requested_by_id) if run is not None and run.requested_by_id else None
    factory = session.get(Organization, int(payload["factory_id"]))
    if factory is None:
        raise NotFound("no factory %(factory_id)s", field="factory", factory_id=payload["factory_id"])
    quantity = int(payload["quantity"])
    written = 0

    def progress(rows: int) -> None:
        nonlocal written
        written += rows
        context.progress(min(written, quantity), quantity)

    context.progress(0, quantity)
    batch = commission_batch(
        session,
        context.extras.get(KEYRING_KEY) or KeyRing.from_spec(context.settings["CODE_KEYS"]),
        part_type=get_part_type(session, payload["part_number"]),
        factory=factory,
        quantity=quantity,
        production_line=payload["production_line"],
        production_date=date.fromisoformat(payload["production_date"]),
        qc_result=payload["qc_result"],
        qc_inspector=payload["qc_inspector"],
        max_quantity=read_settings(context.settings).commission_max_api,
        created_by=actor,
        progress=progress,
        today=local_date(context.now, context.settings.get("TIMEZONE")),
    )
    context.progress(quantity, quantity)
    return {"batch_id": batch.id, "lot": batch.lot, "quantity": quantity, "_progress": (quantity, quantity)}


@job(NOTIFY_JOB)
def notify_recall_owners(context: JobContext) -> dict:
    """Tell the owner of every truck carrying a part of a large recall, off the request, with progress."""
    recall = context.session.get(Recall, int(context.payload.get("recall_id", 0)))
    if recall is None:
        return {"told": 0}
    told = tell_owners(context.session, recall, zone(context.settings), context.now, progress=context.progress)
    return {"told": told}
