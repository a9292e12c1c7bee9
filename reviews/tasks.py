"""The reviews' jobs: the network-wide certification evaluation, run by the worker when the OEM asks."""

from __future__ import annotations

from app.jobs import JobContext, JobRun, job
from app.security import User
from app.web.context import KEYRING_KEY
from reviews import certification
from reviews.certification import EVALUATION_JOB
from reviews.settings import configured_thresholds, parse_thresholds, review_settings


@job(EVALUATION_JOB)
def evaluate_certification(context: JobContext) -> dict:
    """Evaluate every shop's certification (or the shops named) and report progress as it goes."""
    session = context.session
    run = session.get(JobRun, context.run_id) if context.run_id is not None else None
    actor = session.get(User, run.requested_by_id) if run is not None and run.requested_by_id else None
    raw = context.payload.get("thresholds")
    thresholds = (
        parse_thresholds(raw, field="thresholds") if raw is not None else configured_thresholds(context.settings)
    )
    evaluation = certification.evaluate_certification(
        session,
        actor,
        thresholds,
        review_settings(context.settings),
        context.extras.get(KEYRING_KEY),  # the worker's key ring signs the plaques of newly green shops
        context.now,
        context.payload.get("shops") or None,
        progress=context.progress,
    )
    summary = certification.run_to_dict(evaluation)
    summary["_progress"] = (evaluation.shops_evaluated, evaluation.shops_evaluated)
    return summary
