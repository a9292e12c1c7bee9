"""WeChat subscription messages (小程序订阅消息): the grants ledger and the sending adaptor.

A one-time subscription allows exactly one message: the mini-program asks for grants at natural moments (after a
booking, a roadside request, a claim) and reports each accepted template here (`record_grant`). `notify(...,
channels=(inbox, wechat))` writes a WeChat copy only while the person has an unused grant; otherwise the inbox
alone carries the message. Sending consumes the grant with one conditional UPDATE, so a grant is never used twice.
The HTTP transport is a parameter, so the adaptor is tested against recorded exchanges.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Notification, WechatGrant
from app.crm.notifications import WECHAT, Translator, recipient_translation, render_text, untranslated
from app.db import stamp_once
from app.errors import InvalidInput
from app.security import User

log = logging.getLogger(__name__)
WECHAT_KEY = "milepost.wechat"  # where the app keeps its sender (app.extensions), for the worker's job
API = "https://api.weixin.qq.com"
# WeChat's "thing" fields take at most 20 characters.
THING_LIMIT = 20

Transport = Callable[[str, bytes | None], bytes]


class WechatFailed(RuntimeError):
    """WeChat refused the message or did not answer."""


def _post(url: str, body: bytes | None) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the https endpoint is fixed
        return response.read()


def record_grant(session: Session, user: User, openid: str, template_id: str, now: datetime) -> WechatGrant:
    """Record one accepted one-time subscription of `user` for `template_id`."""
    if not openid or len(openid) > 64:
        raise InvalidInput("openid is missing or too long", field="openid")
    if not template_id or len(template_id) > 64:
        raise InvalidInput("template_id is missing or too long", field="template_id")
    grant = WechatGrant(user_id=user.id, openid=openid, template_id=template_id, granted_at=now)
    session.add(grant)
    session.flush()
    return grant


@dataclass
class WechatSender:
    """Sends subscription messages through the mini-program's server API with its app id and secret."""

    app_id: str
    app_secret: str
    # Which approved template carries which notification kind ("leads.assigned" -> template id).
    templates: dict[str, str]
    page: str = "pages/inbox/index"
    transport: Transport = _post
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _token: tuple[str, datetime] | None = field(default=None, repr=False)

    def access_token(self) -> str:
        """Return a valid access token, fetching a new one when the cached one is about to expire."""
        now = self.clock()
        if self._token is not None and self._token[1] > now:
            return self._token[0]
        query = urllib.parse.urlencode(
            {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}
        )
        answer = self._call(f"{API}/cgi-bin/token?{query}", None)
        if "access_token" not in answer:
            raise WechatFailed(f"WeChat gave no access token: {answer.get('errcode')} {answer.get('errmsg')}")
        lifetime = int(answer.get("expires_in", 7200)) - 300
        self._token = (answer["access_token"], now + timedelta(seconds=max(lifetime, 60)))
        return self._token[0]

    def _call(self, url: str, body: bytes | None) -> dict:
        try:
            return json.loads(self.transport(url, body))
        except (OSError, ValueError) as error:
            raise WechatFailed(f"WeChat did not answer: {error}") from error

    def send(self, openid: str, template_id: str, text: str, when: str) -> None:
        """Send one subscription message, or raise WechatFailed with WeChat's reason."""
        body = {
            "touser": openid,
            "template_id": template_id,
            "page": self.page,
            "lang": "zh_CN",
            "data": {"thing1": {"value": text[:THING_LIMIT]}, "time2": {"value": when}},
        }
        token = urllib.parse.quote(self.access_token())
        answer = self._call(
            f"{API}/cgi-bin/message/subscribe/send?access_token={token}", json.dumps(body, ensure_ascii=False).encode()
        )
        if answer.get("errcode", 0) != 0:
            raise WechatFailed(f"WeChat refused the message: {answer.get('errcode')} {answer.get('errmsg')}")


def _take_grant(session: Session, user_id: int, template_id: str, now: datetime) -> WechatGrant | None:
    """Use up the oldest unused grant of `user_id` for `template_id` (one conditional UPDATE); None if none is left."""
    for grant in session.scalars(
        select(WechatGrant)
        .where(WechatGrant.user_id == user_id, WechatGrant.template_id == template_id, WechatGrant.used_at.is_(None))
        .order_by(WechatGrant.id)
        .limit(3)
    ):
        if stamp_once(session, grant, "used_at", now):
            return grant
    return None


def deliver_wechat_due(
    session: Session,
    sender: WechatSender,
    now: datetime,
    zone: ZoneInfo,
    translate: Translator = untranslated,
    limit: int = 200,
) -> dict[str, int]:
    """Send the WeChat copies now due, each on a grant of its own; without a grant the inbox copy stands alone."""
    due = session.scalars(
        select(Notification)
        .where(Notification.channel == WECHAT, Notification.sent_at.is_(None), Notification.deliver_at <= now)
        .order_by(Notification.deliver_at, Notification.id)
        .limit(limit)
    ).all()
    counts = {"sent": 0, "failed": 0, "no_grant": 0}
    for row in due:
        if not stamp_once(session, row, "sent_at", now):
            continue
        template_id = sender.templates.get(row.kind)
        grant = _take_grant(session, row.user_id, template_id, now) if template_id else None
        if grant is None:
            row.failure = "no subscription grant; inbox only"
            counts["no_grant"] += 1
            continue
        try:
            when = row.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            text = render_text(row, recipient_translation(session, row, translate))
            sender.send(grant.openid, template_id, text, when)
            counts["sent"] += 1
        except WechatFailed as error:
            row.failure = str(error)[:200]
            counts["failed"] += 1
    session.flush()
    return counts


def templates_to_ask(sender: WechatSender | None, kinds: Iterable[str]) -> list[str]:
    """Return the templates the mini-program should ask the person to accept now for the `kinds` that may follow.

    The natural moments are right after a booking or a roadside request: the answers the person is waiting for
    come next, and each accepted template is one grant (reported back through POST /notifications/wechat-grants).
    """
    if sender is None:
        return []
    return list(dict.fromkeys(sender.templates[kind] for kind in kinds if kind in sender.templates))


def make_wechat_sender(settings: dict) -> WechatSender | None:
    """Return the WeChat sender the settings configure, or None when WeChat is not set up."""
    if not settings.get("WECHAT_APP_ID"):
        return None
    templates = dict(str(item).split("=", 1) for item in settings.get("WECHAT_TEMPLATES") or [])
    return WechatSender(settings["WECHAT_APP_ID"], settings["WECHAT_APP_SECRET"], templates)
