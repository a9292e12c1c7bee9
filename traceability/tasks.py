"""Traceability jobs for the worker: the sale-price ranges that scan pages show are recomputed off the request."""

from __future__ import annotations

from datetime import timedelta

from app.jobs import JobContext, job
from traceability.records import refresh_sale_price_ranges


@job("traceability.refresh_sale_price_ranges", every=timedelta(hours=1))
def sale_price_ranges(context: JobContext) -> dict:
    """Recompute every part type's 10th-90th percentile of recent sale prices (a scan only reads the result)."""
    return {"part_types": refresh_sale_price_ranges(context.session)}
