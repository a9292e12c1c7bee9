"""What the network tells drivers, through the core's notification inbox: bookings answered or expired, a
roadside job taken (who is coming, when) or escalated. Service basis: the driver asked for this service."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.crm.notifications import INBOX, N_, SMS, WECHAT, notify_customer
from network.models import AssistanceRequest, Booking, BookingStatus

BOOKING_TEXTS = {
    BookingStatus.CONFIRMED: N_("%(shop)s confirmed your booking for %(when)s."),
    BookingStatus.REJECTED: N_("%(shop)s cannot take your booking for %(when)s; please choose another slot."),
    BookingStatus.EXPIRED: N_("%(shop)s did not answer your booking for %(when)s in time; it has expired."),
    BookingStatus.NO_SHOW: N_("%(shop)s recorded your booking for %(when)s as missed."),
}
ROADSIDE_ACCEPTED = N_("%(shop)s is coming to help, in about %(eta)s minutes. Phone %(phone)s.")
ROADSIDE_ESCALATED = N_("No shop near you has taken your roadside request yet; the service desk is finding one.")
# The notifications a driver may want on WeChat after each moment (the mini-program asks for one-time grants).
AFTER_BOOKING = tuple(f"network.booking_{status}" for status in BOOKING_TEXTS)
AFTER_ROADSIDE = ("network.roadside_accepted", "network.roadside_escalated")
CHANNELS = (INBOX, SMS, WECHAT)


def tell_booking(session: Session, booking: Booking, zone: ZoneInfo, now: datetime) -> None:
    """Tell the driver their booking was confirmed, rejected, expired or recorded as missed (once per outcome)."""
    text = BOOKING_TEXTS.get(booking.status)
    if text is None:
        return
    notify_customer(
        session, booking.customer, f"network.booking_{booking.status}", text,
        params={"shop": booking.shop.name, "when": booking.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")},
        now=now, zone=zone, link="/bookings/mine", subject=("booking", booking.id), channels=CHANNELS,
        key=f"booking:{booking.id}",
    )  # fmt: skip


def tell_roadside_accepted(session: Session, request: AssistanceRequest, zone: ZoneInfo, now: datetime) -> None:
    """Tell the driver which shop is coming to their truck and its ETA."""
    shop = request.accepted_shop
    name, phone = (shop.name, shop.phone) if shop is not None else ("", "")
    notify_customer(
        session, request.customer, "network.roadside_accepted", ROADSIDE_ACCEPTED,
        params={"shop": name, "eta": request.eta_minutes or "?", "phone": phone},
        now=now, zone=zone, link=f"/assistance/{request.id}", subject=("assistance", request.id), channels=CHANNELS,
        key=f"assistance:{request.id}",
    )  # fmt: skip


def tell_roadside_escalated(session: Session, request: AssistanceRequest, zone: ZoneInfo, now: datetime) -> None:
    """Tell the driver that no shop took the job in any round and the OEM's desk has it now."""
    notify_customer(
        session, request.customer, "network.roadside_escalated", ROADSIDE_ESCALATED,
        now=now, zone=zone, link=f"/assistance/{request.id}", subject=("assistance", request.id), channels=CHANNELS,
        key=f"assistance:{request.id}",
    )  # fmt: skip
