"""The WeCom customer-service (微信客服) channel behind an interface: a callback says messages are waiting,
`sync_msg` returns them with a cursor, `send_msg` answers. Parsing and building are pure and tested against
recorded fixtures; the HTTP calls (access token, sync_msg, send_msg) belong to a thin production adaptor that
is not part of this package, because nothing here may reach the network.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Customer
from app.errors import InvalidInput
from service.intake import MAX_BODY, NewRequest, clean_text, open_request
from service.models import OPEN_STATUSES, Category, Channel, ChannelIdentity, Message, ServiceRequest, Visibility
from service.replies import add_customer_message
from service.settings import ServiceSettings

# WeCom's own rule: one customer-service session lasts 48 hours; a later message starts a new request.
SESSION_HOURS = 48
# `origin` of a synced message: 3 the customer, 4 a system event, 5 one of our agents.
FROM_CUSTOMER = 3
MAX_CALLBACK_BYTES = 64 * 1024


@dataclass(frozen=True)
class InboundMessage:
    """One customer message from the channel, in our terms."""

    msgid: str
    external_userid: str
    open_kfid: str
    sent_at: datetime
    kind: str
    text: str = ""
    lat: float | None = None
    lon: float | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class SyncBatch:
    """What one sync_msg call returned."""

    messages: list[InboundMessage] = field(default_factory=list)
    next_cursor: str = ""
    has_more: bool = False


class CustomerServiceChannel(Protocol):
    """A messaging channel the service desk reads from and writes to."""

    def parse_callback(self, body: bytes) -> str | None:
        """Return the sync token a callback announces, or None when it is not a message event."""

    def parse_sync(self, payload: dict) -> SyncBatch:
        """Turn a sync response into our messages."""

    def build_reply(self, external_userid: str, open_kfid: str, text: str) -> dict:
        """Return the body of the call that sends `text` to the customer."""


class WeComCustomerService:
    """WeCom 微信客服: callback XML (already decrypted by the HTTP adaptor), sync_msg JSON, send_msg JSON."""

    def parse_callback(self, body: bytes) -> str | None:
        """Return the Token of a kf_msg_or_event callback (the key for the next sync_msg)."""
        if len(body) > MAX_CALLBACK_BYTES or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            raise InvalidInput("not a WeCom callback", field="body")
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise InvalidInput("not a WeCom callback", field="body") from None
        if (root.findtext("MsgType") or "") != "event" or (root.findtext("Event") or "") != "kf_msg_or_event":
            return None
        return root.findtext("Token") or None

    def parse_sync(self, payload: dict) -> SyncBatch:
        """Return the customer messages of a sync_msg response; events and our agents' messages are skipped."""
        if not isinstance(payload, dict) or payload.get("errcode") not in (0, None):
            raise InvalidInput("sync_msg failed", field="errcode")
        messages = []
        for raw in payload.get("msg_list") or []:
            if not isinstance(raw, dict) or raw.get("origin") != FROM_CUSTOMER:
                continue
            kind = str(raw.get("msgtype", ""))
            sent = raw.get("send_time")
            if not isinstance(sent, int) or not 0 < sent < 2**33:
                continue
            base = {
                "msgid": str(raw.get("msgid", ""))[:120],
                "external_userid": str(raw.get("external_userid", ""))[:80],
                "open_kfid": str(raw.get("open_kfid", ""))[:80],
                "sent_at": datetime.fromtimestamp(sent, UTC),
                "kind": kind,
            }
            if not base["msgid"] or not base["external_userid"]:
                continue
            if kind == "text":
                messages.append(InboundMessage(**base, text=str((raw.get("text") or {}).get("content", ""))))
            elif kind == "location":
                place = raw.get("location") or {}
                lat, lon = place.get("latitude"), place.get("longitude")
                valid = (
                    isinstance(lat, int | float) and isinstance(lon, int | float) and abs(lat) <= 90 and abs(lon) <= 180
                )
                name = " ".join(str(place.get(key, "")) for key in ("name", "address")).strip()
                messages.append(
                    InboundMessage(
                        **base, text=name, lat=float(lat) if valid else None, lon=float(lon) if valid else None
                    )
                )
            elif kind in ("image", "voice", "video", "file"):
                media = str((raw.get(kind) or {}).get("media_id", ""))[:200]
                messages.append(InboundMessage(**base, media_id=media or None, text=f"[{kind}]"))
        return SyncBatch(messages, str(payload.get("next_cursor", ""))[:200], bool(payload.get("has_more")))

    def build_reply(self, external_userid: str, open_kfid: str, text: str) -> dict:
        """Return the send_msg body for a text reply."""
        return {"touser": external_userid, "open_kfid": open_kfid, "msgtype": "text", "text": {"content": text[:2048]}}


def parse_sync_text(channel: CustomerServiceChannel, text: str) -> SyncBatch:
    """Parse a sync response body, refusing one that is not JSON."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("sync_msg did not return JSON", field="body") from None
    return channel.parse_sync(payload)


def _open_session(session: Session, external_userid: str, now: datetime) -> ServiceRequest | None:
    return session.scalar(
        select(ServiceRequest)
        .where(
            ServiceRequest.channel == Channel.WECOM,
            ServiceRequest.channel_user == external_userid,
            ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
            ServiceRequest.created_at >= now - timedelta(hours=SESSION_HOURS),
        )
        .order_by(ServiceRequest.created_at.desc())
        .limit(1)
    )


def ingest_messages(session: Session, batch: SyncBatch, settings: ServiceSettings) -> list[ServiceRequest]:
    """Store a batch: the first message of a session opens a request, later ones join it; repeats are ignored."""
    touched: list[ServiceRequest] = []
    for message in batch.messages:
        seen = session.scalar(
            select(Message.id).where(Message.via_channel == Channel.WECOM, Message.external_ref == message.msgid)
        )
        if seen is not None:
            continue
        request = _open_session(session, message.external_userid, message.sent_at)
        text = clean_text(message.text, MAX_BODY, "text") or "[message]"
        if request is None:
            customer_id = session.scalar(
                select(ChannelIdentity.customer_id).where(
                    ChannelIdentity.channel == Channel.WECOM, ChannelIdentity.external_id == message.external_userid
                )
            )
            new = NewRequest(
                channel=Channel.WECOM,
                category=Category.OTHER,
                subject="",
                body=text,
                customer=session.get(Customer, customer_id) if customer_id else None,
                lat=message.lat,
                lon=message.lon,
                external_ref=message.msgid,
            )
            request = open_request(session, None, new, settings, message.sent_at)
            request.channel_user = message.external_userid
            first = session.scalar(
                select(Message).where(Message.request_id == request.id, Message.is_auto.is_(False)).limit(1)
            )
            if first is not None:
                first.external_ref = message.msgid
        else:
            stored = add_customer_message(session, None, request, text, settings, message.sent_at, Channel.WECOM)
            stored.external_ref = message.msgid
            if message.lat is not None and request.lat is None:
                request.lat, request.lon = message.lat, message.lon
        session.flush()
        if request not in touched:
            touched.append(request)
    return touched


def outgoing_replies(
    session: Session, channel: CustomerServiceChannel, request: ServiceRequest, open_kfid: str
) -> list[dict]:
    """Return the send_msg bodies of the request's customer-visible agent replies (what the adaptor posts)."""
    if request.channel != Channel.WECOM or not request.channel_user:
        return []
    replies = session.scalars(
        select(Message)
        .where(
            Message.request_id == request.id,
            Message.visibility == Visibility.CUSTOMER,
            Message.author_user_id.is_not(None),
        )
        .order_by(Message.created_at)
    )
    return [channel.build_reply(request.channel_user, open_kfid, reply.body) for reply in replies]
