"""Jobs of the core: failed-attempt counters, old job runs and old touchpoints are pruned, due notifications are
texted or sent as WeChat subscription messages, and the rest of the demo is built after `milepost serve --demo`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, gettext
from sqlalchemy import delete

from app.crm.notifications import deliver_due
from app.crm.personal_data import apply_touchpoint_retention
from app.crm.wechat import WECHAT_KEY, deliver_wechat_due
from app.db import SESSIONMAKER_KEY
from app.jobs import QUEUE_KEY, JobContext, job, prune_job_runs
from app.security import Attempt
from app.web.context import SMS_KEY
from milepost.demo import DEMO_JOB, build_demo_rest

# Longer than every attempt window (logins 15 minutes, activation codes and reports an hour by default).
ATTEMPT_RETENTION = timedelta(days=2)


@job("core.prune_attempts", every=timedelta(hours=1))
def prune_attempts(context: JobContext) -> dict:
    """Delete failed-attempt counters older than any limit's window."""
    windows = [context.settings.get(name, 0) for name in ("LOGIN_WINDOW_SECONDS", "ACTIVATION_WINDOW_SECONDS")]
    keep = max(ATTEMPT_RETENTION, timedelta(seconds=max(windows)))
    result = context.session.execute(delete(Attempt).where(Attempt.occurred_at < context.now - keep))
    return {"deleted": result.rowcount or 0}


@job("core.prune_job_runs", every=timedelta(hours=6))
def prune_runs(context: JobContext) -> dict:
    """Delete finished job runs older than two weeks (failures after three months)."""
    return {"deleted": prune_job_runs(context.session, context.now)}


@job("core.touchpoint_retention", every=timedelta(days=1))
def touchpoint_retention(context: JobContext) -> dict:
    """Drop or anonymize the touchpoints past their retention (TOUCHPOINT_RETENTION_MONTHS)."""
    return apply_touchpoint_retention(
        context.session,
        context.now,
        int(context.settings["TOUCHPOINT_RETENTION_MONTHS"]),
        str(context.settings["TOUCHPOINT_RETENTION_ACTION"]),
    )


@job("core.deliver_notifications", every=timedelta(minutes=1))
def deliver_notifications(context: JobContext) -> dict:
    """Text the notifications whose recipients' quiet hours are over."""
    extras: Any = context.extras
    sender = extras.get(SMS_KEY) if hasattr(extras, "get") else None
    if sender is None:
        return {"sent": 0, "failed": 0}
    return deliver_due(context.session, sender, context.now, translate=_in_default_language(context.settings))


@job("core.deliver_wechat", every=timedelta(minutes=1))
def deliver_wechat(context: JobContext) -> dict:
    """Send the WeChat subscription messages now due, each on a one-time grant of its own."""
    extras: Any = context.extras
    sender = extras.get(WECHAT_KEY) if hasattr(extras, "get") else None
    if sender is None:
        return {"sent": 0, "failed": 0, "no_grant": 0}
    zone = ZoneInfo(str(context.settings.get("TIMEZONE") or "Asia/Shanghai"))
    return deliver_wechat_due(
        context.session, sender, context.now, zone, translate=_in_default_language(context.settings)
    )


@job(DEMO_JOB)
def build_demo(context: JobContext) -> dict:
    """Build the rest of the demo data set after the first steps `milepost serve --demo` loaded, step by step."""
    extras: Any = context.extras
    make_session = extras.get(SESSIONMAKER_KEY) if hasattr(extras, "get") else None
    return build_demo_rest(
        make_session,
        context.session,
        current_app.instance_path,
        str(context.payload.get("size", "full")),
        int(context.payload.get("seed", 2026)),
        context.progress,
        extras.get(QUEUE_KEY) if hasattr(extras, "get") else None,
    )


def _in_default_language(settings: Any):
    """Return a translator into a recipient's language (or the installation's default), outside a request."""
    default = str(settings.get("DEFAULT_LOCALE") or "zh")

    def translate(text: str, locale: str | None) -> str:
        try:
            with force_locale(locale or default):
                return gettext(text)
        except RuntimeError:
            return text

    return translate
