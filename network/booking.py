"""Bookings: the slot grid with remaining bays, booking one bay without ever overselling, and transitions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.models import Vehicle
from app.crm.notifications import DEFAULT_ZONE
from app.crm.personal_data import ensure_not_erased
from app.crm.relations import register_vehicle_relation
from app.crm.touchpoints import Channel, record_touchpoint
from app.db import is_postgresql, utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User, is_oem, require_member
from network.hours import is_slot_start, slot_starts
from network.models import Booking, BookingSlot, BookingStatus, Shop, ShopStatus
from network.notices import tell_booking
from network.settings import NetworkSettings

ACTIVE_STATES = (BookingStatus.REQUESTED, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)
# Bookings still to come, which count against a driver's cap per shop and day.
OPEN_STATES = (BookingStatus.REQUESTED, BookingStatus.CONFIRMED)
# transition name -> (states it may start from, state it ends in, who may do it, whether it frees the bay)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, str, bool]] = {
    "confirm": ((BookingStatus.REQUESTED,), BookingStatus.CONFIRMED, "shop", False),
    "reject": ((BookingStatus.REQUESTED, BookingStatus.CONFIRMED), BookingStatus.REJECTED, "shop", True),
    "check-in": ((BookingStatus.REQUESTED, BookingStatus.CONFIRMED), BookingStatus.CHECKED_IN, "shop", False),
    "complete": ((BookingStatus.CHECKED_IN,), BookingStatus.COMPLETED, "shop", False),
    "no-show": ((BookingStatus.REQUESTED, BookingStatus.CONFIRMED), BookingStatus.NO_SHOW, "shop", False),
    "cancel": ((BookingStatus.REQUESTED, BookingStatus.CONFIRMED), BookingStatus.CANCELLED, "driver", True),
}
# Higher domains (maintenance) act on a check-in or a completion with what the shop read off the truck (odometer_km,
# engine_hours); network cannot name them, so each registers a listener (session, actor, booking, action, readings,
# settings, now). A listener's error undoes the transition with the rest of the request.
BookingListener = Callable[[Session, User, Booking, str, Mapping[str, int], NetworkSettings, datetime], None]
_LISTENERS: dict[str, BookingListener] = {}
Interval = tuple[datetime, datetime]
# The meters a shop may read off the truck at check-in and completion (API query fields, console form fields).
READING_FIELDS = ("odometer_km", "engine_hours")
TIMESTAMP_OF = {
    BookingStatus.CONFIRMED: "confirmed_at",
    BookingStatus.CHECKED_IN: "checked_in_at",
    BookingStatus.COMPLETED: "completed_at",
}


def register_booking_listener(listener: BookingListener, key: str) -> None:
    """Add (or replace, by key) a listener to bookings' transitions."""
    _LISTENERS[key] = listener


def list_slots(session: Session, shop: Shop, day: date, settings: NetworkSettings) -> list[dict]:
    """Return the day's slots (local date) with the bays left and whether each can still be booked."""
    starts = slot_starts(shop.opening_hours, shop.open_24h, shop.slot_minutes, day, settings.zone)
    if not starts:
        return []
    length = timedelta(minutes=shop.slot_minutes)
    intervals = _active_intervals(session, shop.id, starts[0], starts[-1] + length)
    return _day_slots(shop, starts, intervals, utcnow(), settings)


def _day_slots(
    shop: Shop, starts: list[datetime], intervals: list[Interval], now: datetime, settings: NetworkSettings
) -> list[dict]:
    """The slots starting at `starts` with the bays the active bookings `intervals` leave."""
    length = timedelta(minutes=shop.slot_minutes)
    earliest = now + timedelta(minutes=settings.min_notice_minutes)
    latest = now + timedelta(days=settings.window_days)
    slots = []
    for start in starts:
        left = max(shop.bays - _peak_use(intervals, start, start + length), 0)
        slots.append(
            {
                "start": start.isoformat(),
                "end": (start + length).isoformat(),
                "bays_left": left,
                "bookable": left > 0 and earliest <= start <= latest and shop.status == ShopStatus.ACTIVE,
            }
        )
    return slots


# The days first_bookable_day reads in its first query: today and tomorrow answer nearly every page.
_FIRST_READ_DAYS = 2


def first_bookable_day(session: Session, shop: Shop, today: date, settings: NetworkSettings) -> date:
    """Return the first local day from `today` within the booking window that has a slot left to book, or `today`.

    A driver who opens a shop page at ten at night wants tomorrow's slots, not a day of greyed-out ones. The
    window's bookings are read in two ranges (the first days, then the rest), never one query per day: a shop
    booked out for a month is a public page too."""
    if shop.status != ShopStatus.ACTIVE:
        return today
    length = timedelta(minutes=shop.slot_minutes)
    now = utcnow()
    days = [today + timedelta(days=offset) for offset in range(settings.window_days + 1)]
    for chunk in (days[:_FIRST_READ_DAYS], days[_FIRST_READ_DAYS:]):
        starts_of = {
            day: slot_starts(shop.opening_hours, shop.open_24h, shop.slot_minutes, day, settings.zone) for day in chunk
        }
        every_start = [start for starts in starts_of.values() for start in starts]
        if not every_start:
            continue
        intervals = _active_intervals(session, shop.id, min(every_start), max(every_start) + length)
        for day, starts in starts_of.items():
            if not starts:
                continue
            begin, end = starts[0], starts[-1] + length
            todays = [(first, last) for first, last in intervals if first < end and last > begin]
            if any(slot["bookable"] for slot in _day_slots(shop, starts, todays, now, settings)):
                return day
    return today


def check_bookable(shop: Shop, service: str, start: datetime, now: datetime, settings: NetworkSettings) -> None:
    """Raise, naming the field, unless `start` is a future slot of an active shop that offers `service`."""
    if shop.status != ShopStatus.ACTIVE:
        raise Conflict("shop %(shop)s is not taking bookings", field="shop", shop=shop.code)
    if service not in shop.services:
        raise InvalidInput(
            "shop %(shop_code)s does not offer %(service)r", field="service", shop_code=shop.code, service=service
        )
    if start.tzinfo is None:
        raise InvalidInput("start needs a UTC offset, e.g. 2026-05-01T09:00:00+08:00", field="start")
    if start <= now:
        raise InvalidInput("start is in the past", field="start")
    if start < now + timedelta(minutes=settings.min_notice_minutes):
        raise InvalidInput(
            "book at least %(minutes)s minutes ahead", field="start", minutes=settings.min_notice_minutes
        )
    if start > now + timedelta(days=settings.window_days):
        raise InvalidInput("book at most %(days)s days ahead", field="start", days=settings.window_days)
    if not is_slot_start(shop.opening_hours, shop.open_24h, shop.slot_minutes, start, settings.zone):
        local = start.astimezone(settings.zone)
        day_starts = slot_starts(shop.opening_hours, shop.open_24h, shop.slot_minutes, local.date(), settings.zone)
        within = any(first <= local < first + timedelta(minutes=shop.slot_minutes) for first in day_starts)
        if within:
            raise InvalidInput(
                "start must be aligned to the shop's %(shop_slot_minutes)s-minute slots",
                field="start",
                shop_slot_minutes=shop.slot_minutes,
            )
        raise InvalidInput("the shop is closed at that time", field="start")


def take_bay(session: Session, shop: Shop, start: datetime) -> bool:
    """Take one bay of the slot with one conditional UPDATE; tell whether one was free.

    The slot row is created on first use (ON CONFLICT DO NOTHING, so concurrent first bookings do not fail).
    The UPDATE's WHERE re-checks `booked < bays` after any competing writer commits: PostgreSQL re-evaluates
    it on the new row version under READ COMMITTED, and SQLite runs writers one at a time (BEGIN IMMEDIATE).
    """
    dialect_insert = postgresql_insert if is_postgresql(session) else sqlite_insert
    session.execute(dialect_insert(BookingSlot).values(shop_id=shop.id, start=start, booked=0).on_conflict_do_nothing())
    result = session.execute(
        update(BookingSlot)
        .where(BookingSlot.shop_id == shop.id, BookingSlot.start == start, BookingSlot.booked < shop.bays)
        .values(booked=BookingSlot.booked + 1)
    )
    return result.rowcount == 1


def lock_row(session: Session, model: type, row_id: int) -> None:
    """Hold the row's lock until the transaction ends (PostgreSQL; SQLite has no row locks and needs none)."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update())


def _active_intervals(session: Session, shop_id: int, start: datetime, end: datetime) -> list[Interval]:
    """The [start, end) of the shop's active bookings that overlap [start, end), each with its own stored end."""
    rows = session.execute(
        select(Booking.start, Booking.end).where(
            Booking.shop_id == shop_id,
            Booking.status.in_(ACTIVE_STATES),
            Booking.start < end,
            Booking.end > start,
        )
    )
    return [(first, last) for first, last in rows]


def _peak_use(intervals: list[Interval], start: datetime, end: datetime) -> int:
    """Return the most bookings that overlap at any one moment of [start, end).

    Counting per slot start would miss a 60-minute booking made before the shop moved to 30-minute slots: it
    fills the 09:30 slot too. A booking ending when another starts does not overlap it (ends sort first).
    """
    events = []
    for first, last in intervals:
        first, last = max(first, start), min(last, end)
        if first < last:
            events += [(first, 1), (last, -1)]
    peak = level = 0
    for _moment, change in sorted(events):
        level += change
        peak = max(peak, level)
    return peak


def _check_driver_cap(session: Session, actor: User, shop: Shop, start: datetime, settings: NetworkSettings) -> None:
    """Refuse a booking beyond the driver's cap of open bookings at this shop on that (local) day (row 7)."""
    day = start.astimezone(settings.zone).date()
    day_start = datetime.combine(day, datetime.min.time(), settings.zone)
    open_count = session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(
            Booking.booked_by_id == actor.id,
            Booking.shop_id == shop.id,
            Booking.status.in_(OPEN_STATES),
            Booking.start >= day_start,
            Booking.start < day_start + timedelta(days=1),
        )
    )
    if open_count >= settings.max_open_per_shop_day:
        raise Conflict(
            "you already have %(count)s open bookings at this shop on %(day)s; the limit is %(limit)s",
            field="start",
            count=open_count,
            day=day.isoformat(),
            limit=settings.max_open_per_shop_day,
        )


def release_bay(session: Session, shop_id: int, start: datetime) -> None:
    """Give a bay of the slot back."""
    session.execute(
        update(BookingSlot)
        .where(BookingSlot.shop_id == shop_id, BookingSlot.start == start, BookingSlot.booked > 0)
        .values(booked=BookingSlot.booked - 1)
    )


def book_slot(
    session: Session,
    actor: User,
    shop: Shop,
    vehicle: Vehicle,
    service: str,
    start: datetime,
    settings: NetworkSettings,
    note: str = "",
    now: datetime | None = None,
) -> Booking:
    """Book one bay at a shop for the slot starting at `start`, for the actor's own vehicle.

    `now` is the moment the rules are judged at (default: the present; the demo back-dates history).
    """
    if actor.role != Role.DRIVER:
        raise Forbidden("only drivers book slots")
    if not is_own_customer(actor, vehicle.owner):
        raise Forbidden("you can only book for your own vehicles", field="vin")
    now = now or utcnow()
    check_bookable(shop, service, start, now, settings)
    end = start + timedelta(minutes=shop.slot_minutes)
    customer = find_customer_for_user(session, actor) or vehicle.owner
    # A booking racing the person's erasure waits for it and is refused, or lands first and is erased with the rest.
    ensure_not_erased(session, customer.id)
    # Row 20: the vehicle's row lock makes two bookings of one truck take turns, so the second one's clash
    # check sees the first (PostgreSQL; SQLite runs writers one at a time anyway).
    lock_row(session, Vehicle, vehicle.id)
    clash = session.scalar(
        select(Booking.id).where(
            Booking.vehicle_id == vehicle.id,
            Booking.status.in_(ACTIVE_STATES),
            Booking.start < end,
            Booking.end > start,
        )
    )
    if clash:
        raise Conflict("this vehicle already has booking %(booking)s at that time", field="start", booking=clash)
    # The shop's row lock serializes its bookings: the interval count and the per-driver cap below are then
    # exact (vehicle first, shop second, always in that order).
    lock_row(session, Shop, shop.id)
    _check_driver_cap(session, actor, shop, start, settings)
    if _peak_use(_active_intervals(session, shop.id, start, end), start, end) >= shop.bays:
        raise Conflict("this slot is full; choose another", field="start")
    if not take_bay(session, shop, start):
        raise Conflict("this slot is full; choose another", field="start")
    booking = Booking(
        shop=shop,
        customer=customer,
        vehicle=vehicle,
        booked_by_id=actor.id,
        service=service,
        start=start,
        end=end,
        note=note,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    # A booking is intent the dealers may follow up on that service (the leads domain reads touchpoints).
    record_touchpoint(
        session, channel=Channel.BOOKING, kind=service, source_type="booking", source_id=booking.id,
        customer=booking.customer, vehicle=vehicle, province=shop.province, city=shop.city,
        summary=f"booked {service} at {shop.name}", occurred_at=now,
    )  # fmt: skip
    return booking


def may_see_booking(actor: User, booking: Booking) -> bool:
    """Drivers see their own bookings, shop staff their shop's, the OEM all."""
    if is_oem(actor):
        return True
    if actor.role == Role.DRIVER:
        return is_own_customer(actor, booking.customer)
    return actor.role == Role.SHOP_STAFF and actor.organization_id == booking.shop.organization_id


def transition_booking(
    session: Session,
    actor: User,
    booking: Booking,
    action: str,
    settings: NetworkSettings,
    reason: str = "",
    now: datetime | None = None,
    readings: Mapping[str, int] | None = None,
) -> Booking:
    """Move a booking along one allowed transition, atomically (a second, concurrent one gets 409); `readings` are
    the meters the shop read at check-in or completion, for the registered listeners."""
    if action not in TRANSITIONS:
        raise InvalidInput("unknown action %(action)r", field="action", action=action)
    sources, target, who, frees_bay = TRANSITIONS[action]
    now = now or utcnow()
    if who == "shop":
        require_member(actor, booking.shop.organization_id, Role.SHOP_STAFF)
    elif not is_own_customer(actor, booking.customer):
        raise Forbidden("only the driver who booked may cancel")
    if booking.status not in sources:
        raise Conflict(
            "a %(booking_status)s booking cannot be %(target)s",
            field="status",
            status=booking.status,
            booking_status=booking.status,
            target=target,
        )
    if action == "cancel" and now > booking.start - timedelta(minutes=settings.cancel_cutoff_minutes):
        raise Conflict(
            "bookings can be cancelled until %(cancel_cutoff_minutes)s minutes before the start",
            field="start",
            cancel_cutoff_minutes=settings.cancel_cutoff_minutes,
        )
    if action == "no-show" and now < booking.start:
        raise Conflict("a no-show can be recorded only after the start", field="start")
    values: dict = {"status": target}
    if target in TIMESTAMP_OF:
        values[TIMESTAMP_OF[target]] = now
    else:
        values["closed_at"] = now
        values["reason"] = reason[:500]
    # The status in the WHERE makes the transition atomic: of two racing requests only one matches.
    result = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == booking.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("the booking changed meanwhile; reload it", field="status")
    if frees_bay:
        release_bay(session, booking.shop_id, booking.start)
    session.refresh(booking)
    tell_booking(session, booking, settings.zone, now)
    for _key, listener in sorted(_LISTENERS.items()):
        listener(session, actor, booking, action, readings or {}, settings, now)
    return booking


def expire_unanswered(session: Session, now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> int:
    """Expire every booking still `requested` at its start and give its bay back; return how many.

    An unanswered request holds a bay and, were it left alone, would flatter the shop's rejection rate; an
    expired one counts as rejected in certification. The status in each UPDATE's WHERE lets a shop's last-second
    confirmation win cleanly.
    """
    due = session.execute(
        select(Booking.id, Booking.shop_id, Booking.start)
        .where(Booking.status == BookingStatus.REQUESTED, Booking.start <= now)
        .order_by(Booking.id)
    ).all()
    expired = 0
    for booking_id, shop_id, start in due:
        result = session.execute(
            update(Booking)
            .where(Booking.id == booking_id, Booking.status == BookingStatus.REQUESTED)
            .values(status=BookingStatus.EXPIRED, closed_at=now, reason="not answered before its start")
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            release_bay(session, shop_id, start)
            tell_booking(session, session.get(Booking, booking_id, populate_existing=True), zone, now)
            expired += 1
    return expired


def select_bookings_for(actor: User, shop: Shop | None = None, day_start: datetime | None = None) -> Select:
    """Return the query for the bookings the actor may list, soonest first (a shop's, a driver's or all)."""
    statement = select(Booking).order_by(Booking.start, Booking.id)
    if shop is not None:
        require_member(actor, shop.organization_id, Role.SHOP_STAFF)
        statement = statement.where(Booking.shop_id == shop.id)
    elif actor.role == Role.DRIVER:
        from app.crm.models import Customer

        statement = statement.join(Booking.customer).where(Customer.user_id == actor.id)
    elif not is_oem(actor):
        raise Forbidden("name the shop whose bookings to list", field="shop")
    if day_start is not None:
        statement = statement.where(and_(Booking.start >= day_start, Booking.start < day_start + timedelta(days=1)))
    return statement


def shows_customer(actor: User | None, booking: Booking) -> bool:
    """Whether the actor sees the customer's name and phone in full: the driver, the OEM, and the shop once it has
    taken the job (confirmed or checked it in); a shop only asked for a bay sees them masked (row 14)."""
    if actor is None:
        return False
    if is_oem(actor) or is_own_customer(actor, booking.customer):
        return True
    taken = booking.confirmed_at is not None or booking.checked_in_at is not None
    return taken and actor.organization_id == booking.shop.organization_id


def _booked_at(organization_id: int):
    return (
        select(Booking.vehicle_id).join(Shop, Shop.id == Booking.shop_id).where(Shop.organization_id == organization_id)
    )


# A shop's staff see the trucks booked with it (app.crm.relations).
register_vehicle_relation(_booked_at)
