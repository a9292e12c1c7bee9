"""One notification inbox: domains write notifications here; the in-app inbox shows them, SMS and WeChat carry
some out (WeChat: app.crm.wechat).

`notify(...)` writes one row per channel. The inbox row is visible at once; an SMS row waits for its
`deliver_at` (the end of the person's quiet hours) and is sent by the core's job through the SMS sender
interface (app.sms). Marketing notifications need the person's explicit opt-in; without it nothing is written.
A `key` names the event: the same person, kind and key is written once, however often the caller runs (a
double click, a retried request or job). Texts are stored as English msgids with their values and shown in the
reader's language: the inbox in the page's, SMS and WeChat in the one the person chose (`preference.locale`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.clock import DEFAULT_TIMEZONE
from app.crm.models import Customer, Notification, NotificationPreference, WechatGrant
from app.db import stamp_once
from app.errors import InvalidInput
from app.phones import find_mobile
from app.security import User
from app.sms import NOTIFICATION, SmsFailed, SmsSender

INBOX = "inbox"
SMS = "sms"
WECHAT = "wechat"
CHANNELS = (INBOX, SMS, WECHAT)
SERVICE = "service"
MARKETING = "marketing"
DEFAULT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
LOCALES = ("zh", "en")
# Translates a stored msgid into a language (None: the installation's default).
Translator = Callable[[str, str | None], str]


def N_(text: str) -> str:  # noqa: N802 - the gettext marker's usual name; the reader's language is chosen on show
    """Mark a notification text for translation; it is stored in English and shown in the reader's language."""
    return text


def untranslated(text: str, _locale: str | None) -> str:
    """Return the text as stored (a translator for tests and scripts without catalogues)."""
    return text


def _parse_clock(text: str | None, field_name: str) -> time | None:
    if not text:
        return None
    parts = text.split(":")
    if len(parts) != 2 or not all(part.isdigit() and len(part) == 2 for part in parts):
        raise InvalidInput("%(value)s is not a time of day HH:MM", field=field_name, value=text[:10])
    hours, minutes = int(parts[0]), int(parts[1])
    if hours > 23 or minutes > 59:
        raise InvalidInput("%(value)s is not a time of day HH:MM", field=field_name, value=text[:10])
    return time(hours, minutes)


def preference_of(session: Session, user_id: int) -> NotificationPreference:
    """Return a user's preferences (defaults when they never chose: no quiet hours, SMS on, no marketing)."""
    found = session.get(NotificationPreference, user_id)
    return found if found is not None else NotificationPreference(user_id=user_id, sms_enabled=True)


def set_preferences(
    session: Session,
    actor: User,
    *,
    quiet_start: str | None,
    quiet_end: str | None,
    sms_enabled: bool,
    now: datetime,
    locale: str | None = None,
) -> NotificationPreference:
    """Set the actor's own quiet hours (both or neither), whether they want texts and in which language."""
    if locale is not None and locale not in LOCALES:
        raise InvalidInput("language is zh or en", field="locale")
    start, end = _parse_clock(quiet_start, "quiet_start"), _parse_clock(quiet_end, "quiet_end")
    if (start is None) != (end is None) or (start is not None and start == end):
        raise InvalidInput("give both ends of the quiet hours, and different ones", field="quiet_end")
    found = session.get(NotificationPreference, actor.id)
    if found is None:
        found = NotificationPreference(user_id=actor.id, marketing_opt_in=False)
        session.add(found)
    found.quiet_start, found.quiet_end, found.sms_enabled = quiet_start or None, quiet_end or None, sms_enabled
    found.locale = locale or found.locale
    session.flush()
    return found


def set_marketing_consent(
    session: Session, user_id: int, opted_in: bool, now: datetime, text_version: str | None = None
) -> NotificationPreference:
    """Record an explicit marketing opt-in (with the text's version) or the one-tap opt-out."""
    if opted_in and not text_version:
        raise InvalidInput("a marketing opt-in needs the consent text's version", field="consent_text_version")
    found = session.get(NotificationPreference, user_id)
    if found is None:
        found = NotificationPreference(user_id=user_id, sms_enabled=True)
        session.add(found)
    found.marketing_opt_in = opted_in
    found.marketing_text_version = text_version if opted_in else found.marketing_text_version
    found.marketing_changed_at = now
    session.flush()
    return found


def quiet_until(preference: NotificationPreference, zone: ZoneInfo, now: datetime) -> datetime | None:
    """Return when the person's quiet hours end if `now` falls inside them, else None."""
    start = _parse_clock(preference.quiet_start, "quiet_start")
    end = _parse_clock(preference.quiet_end, "quiet_end")
    if start is None or end is None:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(second=0, microsecond=0)
    wraps = start > end  # 22:00-08:00 spans midnight
    inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
    if not inside:
        return None
    day = local.date() if (not wraps or clock < end) else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone)


def notify(
    session: Session,
    user: User,
    kind: str,
    text: str,
    *,
    now: datetime,
    zone: ZoneInfo = DEFAULT_ZONE,
    params: dict | None = None,
    link: str = "",
    subject: tuple[str, object] | None = None,
    purpose: str = SERVICE,
    channels: Iterable[str] = (INBOX,),
    key: str | None = None,
    about: str | None = None,
) -> list[Notification]:
    """Write a notification to `user` on each channel allowed (consent, SMS choice, a phone); return the rows.

    With a `key`, a notification of this kind and key already written to the person makes this call write nothing.
    `about` is the mobile number of the person the message is about when that is someone else (a lead); without
    it, a number written in `params` is taken. Erasing that person finds the message by it.
    """
    if not user.is_active:
        return []  # a closed (erased) account: nobody reads its inbox and its phone is gone
    preference = preference_of(session, user.id)
    if purpose == MARKETING and not preference.marketing_opt_in:
        return []
    if key is not None and _was_written(session, user.id, kind, key):
        return []
    about_phone = about or find_mobile(" ".join(str(value) for value in (params or {}).values()))
    written = []
    for channel in dict.fromkeys(channels):
        if channel not in CHANNELS:
            raise InvalidInput("unknown channel %(channel)s", field="channel", channel=str(channel)[:20])
        if channel == SMS and (not preference.sms_enabled or not user.phone):
            continue
        if channel == WECHAT and not has_wechat_grant(session, user.id):
            continue  # a one-time subscription is needed per message: without one the inbox copy stands alone
        deliver_at = (quiet_until(preference, zone, now) or now) if channel != INBOX else now
        row = Notification(
            user_id=user.id,
            channel=channel,
            kind=kind[:60],
            purpose=purpose,
            text=text[:500],
            params=dict(params or {}),
            link=link[:300],
            subject_type=subject[0] if subject else "",
            subject_id=str(subject[1]) if subject else "",
            created_at=now,
            deliver_at=deliver_at,
            sent_at=now if channel == INBOX else None,
            dedupe_key=key[:80] if key is not None else None,
            about_phone=about_phone,
        )
        session.add(row)
        written.append(row)
    session.flush()
    return written


def _was_written(session: Session, user_id: int, kind: str, key: str) -> bool:
    found = session.scalar(
        select(Notification.id)
        .where(Notification.user_id == user_id, Notification.kind == kind[:60], Notification.dedupe_key == key[:80])
        .limit(1)
    )
    return found is not None


def notify_customer(session: Session, customer: Customer | None, kind: str, text: str, **options) -> list[Notification]:
    """Notify the person behind a customer record (`notify`'s options); nothing when they have no account."""
    if customer is None or customer.user_id is None:
        return []
    user = session.get(User, customer.user_id)
    if user is None or not user.is_active:
        return []
    return notify(session, user, kind, text, **options)


def has_wechat_grant(session: Session, user_id: int) -> bool:
    """Tell whether the user has an unused WeChat one-time subscription."""
    found = session.scalar(
        select(WechatGrant.id).where(WechatGrant.user_id == user_id, WechatGrant.used_at.is_(None)).limit(1)
    )
    return found is not None


def render_text(notification: Notification, translate: Callable[[str], str] = str) -> str:
    """Return a notification's message filled with its values, its template translated by `translate`."""
    template = translate(notification.text)
    try:
        return template % (notification.params or {})
    except (KeyError, TypeError, ValueError):
        return template


def recipient_translation(session: Session, row: Notification, translate: Translator) -> Callable[[str], str]:
    """Return the translator into the language the row's recipient chose (outside a request: texts, WeChat)."""
    found = session.get(NotificationPreference, row.user_id)
    locale = found.locale if found is not None else None
    return lambda text: translate(text, locale)


def deliver_due(
    session: Session, sender: SmsSender, now: datetime, translate: Translator = untranslated, limit: int = 200
) -> dict[str, int]:
    """Send the texts whose quiet hours are over; a failure is kept on the row and not retried."""
    due = session.scalars(
        select(Notification)
        .where(Notification.channel == SMS, Notification.sent_at.is_(None), Notification.deliver_at <= now)
        .order_by(Notification.deliver_at, Notification.id)
        .limit(limit)
    ).all()
    counts = {"sent": 0, "failed": 0}
    for row in due:
        # Claimed first, so that two workers never text one notification twice.
        if not stamp_once(session, row, "sent_at", now):
            continue
        user = session.get(User, row.user_id)
        try:
            if user is None or not user.phone:
                raise SmsFailed("no phone")
            text = render_text(row, recipient_translation(session, row, translate))
            sender.send(user.phone, NOTIFICATION, {"text": text[:70]})
            counts["sent"] += 1
        except SmsFailed as error:
            row.failure = str(error)[:200]
            counts["failed"] += 1
    session.flush()
    return counts


def count_unread(session: Session, user_id: int) -> int:
    """Return how many inbox notifications the user has not read (the landing pages' badge)."""
    return session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.channel == INBOX, Notification.read_at.is_(None))
    )


def list_inbox(session: Session, user_id: int, limit: int = 50, unread_only: bool = False) -> list[Notification]:
    """Return a user's inbox (or only what they have not read), newest first."""
    statement = select(Notification).where(Notification.user_id == user_id, Notification.channel == INBOX)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    return list(
        session.scalars(statement.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    )


def mark_read(session: Session, actor: User, now: datetime, notification_id: int | None = None) -> int:
    """Mark one of the actor's inbox notifications (or all of them) read; return how many changed."""
    statement = update(Notification).where(
        Notification.user_id == actor.id, Notification.channel == INBOX, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    result = session.execute(statement.values(read_at=now).execution_options(synchronize_session=False))
    return result.rowcount or 0
