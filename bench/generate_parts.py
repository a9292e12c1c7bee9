"""Generator part two: batches of serialized parts living through a year of custody, with their scans.

Each batch is simulated on its own (in one of several processes): commissioned at the factory, pallets
shipped to central warehouses, boxes on to dealers and shops, sold, fitted, now and then removed or
destroyed; each step happens only if its time has come, so recent batches are still at the factory.
Scans follow the parts (staff at receiving, buyers before paying, drivers after fitting) at the place the
part then is. The part rows carry the state all this leaves (holder, sale, kept scan state, chain places),
exactly what the application's own writes would have left. Events go to an unlogged staging table
(`STAGING_EVENTS`), from which the caller links them into the hash chain in one streamed, sorted read: at the
full year (about 5,000,000 events) they would not fit comfortably in one process's memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg

from app.geo import coarsen
from app.signing import KeyRing
from bench.generate_copy import copy_rows
from traceability.alerts import SIGNAL_BITS
from traceability.chain import parts_digest
from traceability.codes import activation_code_for, hash_activation_code, new_serials, tag_message
from traceability.places import locate

# Event ids are the batch id shifted by this many bits plus a number within the batch: each process
# can name its events before the chain is linked, with no coordination.
EVENT_ID_BITS = 20
STAGING_EVENTS = "generate_staging_events"
PALLET = (300, 700)
BOX = (20, 60)
SELL_LOT = (1, 4)
STAYS_AT_WAREHOUSE = 0.3
DESTROYED_AT_WAREHOUSE = 0.02
STAYS_AT_DEALER = 0.4
HELD_AT_FACTORY = 0.15
FITTED_AFTER_SALE = 0.35
REMOVED_AFTER_FITTING = 0.05
SUSPECT_SCAN = 0.003
STEPS = {
    "commission": ("commissioning", "active"),
    "ship": ("shipping", "in_transit"),
    "receive": ("receiving", "sellable_accessible"),
    "sell": ("retail_selling", "retail_sold"),
    "install": ("installing", "in_progress"),
    "remove": ("removing", "non_sellable_other"),
    "destroy": ("destroying", "destroyed"),
}
EVENT_COLUMNS = (
    "id",
    "event_type",
    "business_step",
    "disposition",
    "occurred_at",
    "occurred_offset_minutes",
    "recorded_at",
    "organization_id",
    "destination_id",
    "user_id",
    "vehicle_id",
    "buyer_customer_id",
    "batch_id",
    "price",
    "lat",
    "lon",
    "part_count",
    "parts_digest",
)
PART_COLUMNS = (
    "id",
    "part_type_id",
    "batch_id",
    "gtin",
    "serial",
    "tag",
    "activation_hash",
    "activated_at",
    "state",
    "holder_id",
    "destination_id",
    "vehicle_id",
    "recall_id",
    "updated_at",
    "scan_count",
    "last_scan_number",
    "last_scan_lat",
    "last_scan_lon",
    "last_scan_at",
    "scan_cities",
    "chain_places",
    "sold_at",
    "sold_by_id",
    "alert_signals",
)
SCAN_COLUMNS = (
    "part_id",
    "gtin",
    "serial",
    "verdict",
    "reasons",
    "intent",
    "lat",
    "lon",
    "province",
    "city",
    "user_id",
    "organization_id",
    "scanned_at",
)


@dataclass(frozen=True)
class BatchPlan:
    """One batch to simulate: ids, its part type and factory, when it was made, and any recall."""

    batch_id: int
    part_type_id: int
    gtin: str
    guide_price: Decimal
    factory: tuple
    produced_at: datetime
    quantity: int
    first_part_id: int
    recall_id: int | None


@dataclass(frozen=True)
class World:
    """What every process needs: keys, organizations (id, lat, lon, city), id ranges, the present."""

    keys: str
    warehouses: list[tuple]
    dealers: list[tuple]
    shops: list[tuple]
    customers: int
    vehicles: int
    now: datetime
    scans_per_part: float
    shop_ids: frozenset[int]


class Part:
    """The mutable state of one simulated part."""

    __slots__ = (
        "id",
        "serial",
        "state",
        "holder",
        "destination",
        "vehicle",
        "activated_at",
        "sold_at",
        "sold_by",
        "places",
        "scans",
        "last",
        "cities",
        "signals",
        "updated_at",
    )

    def __init__(self, part_id: int, serial: str, factory: tuple, at: datetime) -> None:
        self.id, self.serial, self.state = part_id, serial, "produced"
        self.holder, self.destination, self.vehicle = factory[0], None, None
        self.activated_at = self.sold_at = self.sold_by = None
        self.places: list[list[float]] = []
        self.scans, self.last, self.cities, self.signals = 0, None, [], 0
        self.updated_at = at


class BatchSimulation:
    """Simulate one batch; collect the rows of parts, events, event parts, sales, installations and scans."""

    def __init__(self, world: World, plan: BatchPlan, rng: random.Random) -> None:
        self.world, self.plan, self.rng = world, plan, rng
        self.events: list[tuple] = []
        self.event_parts: list[tuple] = []
        self.sales: list[tuple] = []
        self.installations: list[tuple] = []
        self.scans: list[tuple] = []
        self.alerts: list[tuple] = []
        self.next_event = plan.batch_id << EVENT_ID_BITS

    def event(self, kind: str, at: datetime, organization: tuple, parts: list[Part], **fields) -> int:
        """Record an event naming `parts` (none for commissioning, which names its batch)."""
        self.next_event += 1
        step, disposition = STEPS[kind]
        lines = (f"{self.plan.gtin}|{part.serial}" for part in parts)
        recorded = at + timedelta(seconds=self.rng.uniform(1, 600))
        self.events.append(
            (
                self.next_event,
                kind,
                step,
                disposition,
                at,
                480,
                recorded,
                organization[0],
                fields.get("destination"),
                None,
                fields.get("vehicle"),
                fields.get("buyer"),
                fields.get("batch"),
                fields.get("price"),
                organization[1] if kind == "commission" else None,
                organization[2] if kind == "commission" else None,
                fields.get("count", len(parts)),
                parts_digest(lines) if kind != "commission" else fields["digest"],
            )
        )
        places = [[round(organization[1], 4), round(organization[2], 4)]]
        destination = fields.get("destination_place")
        if destination is not None:
            places.append([round(destination[1], 4), round(destination[2], 4)])
        # In their lines' order (one GTIN per batch: by serial), as the application writes them
        # (custody.record_event): `chain verify`'s sort of them then finds them presorted.
        for part in sorted(parts, key=lambda part: part.serial):
            self.event_parts.append((self.next_event, part.id, at))
            for place in places:
                if place not in part.places:
                    part.places.append(place)
            part.updated_at = at
        return self.next_event

    def scan(self, part: Part, at: datetime, where: tuple, *, staff: bool = False, intent: str | None = None) -> None:
        """Store a scan of a known part near `where`, with the verdict the application would give."""
        if at > self.world.now:
            return
        rng = self.rng
        lat, lon = where[1] + rng.uniform(-0.03, 0.03), where[2] + rng.uniform(-0.03, 0.03)
        reasons: list[str] = []
        if not staff and rng.random() < SUSPECT_SCAN and part.state != "destroyed":
            # A copy of the code scanned far away: the part stays suspect until the OEM closes the alert.
            far = rng.choice(self.world.dealers)
            lat, lon = far[1] + rng.uniform(-0.03, 0.03), far[2] + rng.uniform(-0.03, 0.03)
            reasons = ["far_from_chain"]
            if not part.signals & SIGNAL_BITS["far_from_chain"]:
                part.signals |= SIGNAL_BITS["far_from_chain"]
                self.alerts.append(("far_from_chain", part.id, at, far[0]))
        lat, lon = coarsen(lat), coarsen(lon)
        # The city of the place the part is at (cached per organization: a scan a few km off is in the same city).
        place = locate(round(where[1], 2), round(where[2], 2))
        verdict = self.verdict(part, reasons)
        part.scans += 1
        part.last = (part.scans, lat, lon, at)
        if place is not None and part.state in ("produced", "in_transit", "in_stock", "sold"):
            kept = [item for item in part.cities if item[0] != place.city]
            part.cities = ([[place.city, part.scans]] + kept)[:4]
        self.scans.append(
            (
                part.id,
                self.plan.gtin,
                part.serial,
                verdict,
                reasons if verdict != "void" else ["destroyed"],
                intent,
                lat,
                lon,
                place.province if place else None,
                place.city if place else None,
                None,
                where[0] if staff else None,
                at,
            )
        )

    def verdict(self, part: Part, reasons: list[str]) -> str:
        if part.state == "destroyed":
            return "void"
        if self.plan.recall_id is not None:
            reasons.insert(0, "recalled")
            return "recalled"
        if reasons or part.signals:
            if not reasons:
                reasons.append("far_from_chain")
            return "suspect"
        return "installed" if part.state == "installed" else "genuine"

    def later(self, start: datetime, low_days: float, high_days: float) -> datetime:
        return start + timedelta(days=self.rng.uniform(low_days, high_days))

    def run(self, serials: list[str]) -> list[Part]:
        """Live the batch's year; return its parts in their final state."""
        plan, rng = self.plan, self.rng
        parts = [
            Part(plan.first_part_id + index, serial, plan.factory, plan.produced_at)
            for index, serial in enumerate(serials)
        ]
        digest = parts_digest(f"{plan.gtin}|{serial}" for serial in serials)
        self.event(
            "commission", plan.produced_at, plan.factory, [], batch=plan.batch_id, count=len(parts), digest=digest
        )
        start = 0
        while start < len(parts):
            size = rng.randint(*PALLET)
            self.pallet(parts[start : start + size])
            start += size
        return parts

    def pallet(self, parts: list[Part]) -> None:
        rng, world = self.rng, self.world
        # Most pallets leave the factory within days; some wait for an order for weeks.
        waits = rng.random() < HELD_AT_FACTORY
        shipped = self.later(self.plan.produced_at, 20, 120) if waits else self.later(self.plan.produced_at, 1, 6)
        if shipped > world.now:
            return
        warehouse = rng.choice(world.warehouses)
        self.move(parts, "ship", shipped, self.plan.factory, warehouse)
        received = self.later(shipped, 1, 3)
        if received > world.now:
            return
        self.move(parts, "receive", received, warehouse, None)
        staying = int(len(parts) * STAYS_AT_WAREHOUSE)
        destroyed = int(len(parts) * DESTROYED_AT_WAREHOUSE)
        if destroyed:
            at = self.later(received, 5, 60)
            if at <= world.now:
                victims = parts[staying : staying + destroyed]
                self.move(victims, "destroy", at, warehouse, None)
                if rng.random() < 0.2:
                    self.scan(victims[0], self.later(at, 1, 30), warehouse)
        start = staying + destroyed
        while start < len(parts):
            size = rng.randint(*BOX)
            self.box(parts[start : start + size], warehouse, received)
            start += size

    def move(self, parts: list[Part], kind: str, at: datetime, organization: tuple, destination: tuple | None) -> int:
        fields = {}
        if destination is not None:
            fields = {"destination": destination[0], "destination_place": destination}
        event_id = self.event(kind, at, organization, parts, **fields)
        for part in parts:
            if kind == "ship":
                part.state, part.destination = "in_transit", destination[0]
            elif kind == "receive":
                part.state, part.holder, part.destination = "in_stock", organization[0], None
            elif kind == "destroy":
                part.state = "destroyed"
        return event_id

    def box(self, parts: list[Part], warehouse: tuple, since: datetime) -> None:
        rng, world = self.rng, self.world
        shipped = self.later(since, 2, 45)
        if shipped > world.now:
            return
        seller = rng.choice(world.dealers) if rng.random() < 0.6 else rng.choice(world.shops)
        self.move(parts, "ship", shipped, warehouse, seller)
        received = self.later(shipped, 1, 3)
        if received > world.now:
            return
        self.move(parts, "receive", received, seller, None)
        for part in parts:
            self.scan(part, received + timedelta(minutes=5), seller, staff=True)
        stay = int(len(parts) * STAYS_AT_DEALER)
        for part in parts[:stay]:
            for _ in range(self.scan_count(0.6)):
                self.scan(part, self.later(received, 1, 90), seller)
        start = stay
        while start < len(parts):
            size = rng.randint(*SELL_LOT)
            self.sell(parts[start : start + size], seller, received)
            start += size

    def scan_count(self, mean: float) -> int:
        expected = mean * self.world.scans_per_part
        whole = int(expected)
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def sell(self, parts: list[Part], seller: tuple, since: datetime) -> None:
        rng, world = self.rng, self.world
        sold = self.later(since, 1, 60)
        if sold > world.now:
            return
        for part in parts:
            for _ in range(self.scan_count(1.2)):
                self.scan(part, sold - timedelta(minutes=rng.uniform(1, 30)), seller, intent="buy")
        price = (self.plan.guide_price * Decimal(str(round(rng.uniform(0.85, 1.6), 2)))).quantize(Decimal("0.01"))
        buyer = rng.randrange(1, world.customers + 1)
        event_id = self.event("sell", sold, seller, parts, price=price, buyer=buyer)
        for part in parts:
            part.state, part.holder, part.sold_at, part.sold_by = "sold", None, sold, seller[0]
            self.sales.append((part.id, self.plan.part_type_id, seller[0], None, buyer, price, event_id, sold))
        for part in parts:
            if rng.random() < FITTED_AFTER_SALE:
                self.install(part, seller, sold)

    def install(self, part: Part, seller: tuple, since: datetime) -> None:
        rng, world = self.rng, self.world
        fitted = self.later(since, 0, 7)
        if fitted > world.now:
            return
        shop = seller if seller[0] in world.shop_ids or rng.random() < 0.3 else rng.choice(world.shops)
        vehicle = rng.randrange(1, world.vehicles + 1)
        event_id = self.event("install", fitted, shop, [part], vehicle=vehicle)
        part.state, part.vehicle, part.activated_at = "installed", vehicle, fitted
        self.scan(part, fitted + timedelta(minutes=2), shop, staff=True)
        removed = self.later(fitted, 30, 200) if rng.random() < REMOVED_AFTER_FITTING else None
        for _ in range(self.scan_count(1.0)):
            at = self.later(fitted, 1, 200)
            if removed is None or at < removed:
                self.scan(part, at, shop)
        if removed is not None and removed <= world.now:
            self.event("remove", removed, shop, [part], vehicle=vehicle)
            part.state, part.holder, part.vehicle = "removed", shop[0], None
        else:
            removed = None
        self.installations.append((part.id, vehicle, shop[0], event_id, fitted, removed))

    def part_rows(self, ring: KeyRing, parts: list[Part]):
        plan = self.plan
        for part in parts:
            code = activation_code_for(ring, plan.gtin, part.serial)
            last = part.last or (None, None, None, None)
            yield (
                part.id,
                plan.part_type_id,
                plan.batch_id,
                plan.gtin,
                part.serial,
                ring.sign(tag_message(plan.gtin, part.serial)),
                hash_activation_code(ring, plan.gtin, part.serial, code),
                part.activated_at,
                part.state,
                part.holder,
                part.destination,
                part.vehicle,
                plan.recall_id,
                part.updated_at,
                part.scans,
                *last,
                part.cities or None,
                part.places or None,
                part.sold_at,
                part.sold_by,
                part.signals,
            )


def simulate_batches(dsn: str, world: World, plans: list[BatchPlan], seed: int) -> dict:
    """Simulate and store `plans` (one process's share; the events unlinked, in `STAGING_EVENTS`); return the
    alerts and the counts."""
    ring = KeyRing.from_spec(world.keys)
    rng = random.Random(seed)
    alerts: list[tuple] = []
    counts = {"parts": 0, "scans": 0, "events": 0, "event_parts": 0, "sales": 0, "installations": 0}
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SET synchronous_commit = off")
        for plan in plans:
            simulation = BatchSimulation(world, plan, rng)
            parts = simulation.run(new_serials(plan.quantity))
            counts["parts"] += copy_rows(connection, "parts", PART_COLUMNS, simulation.part_rows(ring, parts))
            counts["event_parts"] += copy_rows(
                connection, "custody_event_parts", ("event_id", "part_id", "occurred_at"), simulation.event_parts
            )
            counts["scans"] += copy_rows(connection, "scans", SCAN_COLUMNS, simulation.scans)
            counts["sales"] += copy_rows(
                connection,
                "sales",
                (
                    "part_id",
                    "part_type_id",
                    "seller_id",
                    "buyer_organization_id",
                    "buyer_customer_id",
                    "price",
                    "event_id",
                    "sold_at",
                ),
                simulation.sales,
            )
            counts["installations"] += copy_rows(
                connection,
                "installations",
                ("part_id", "vehicle_id", "organization_id", "event_id", "installed_at", "removed_at"),
                simulation.installations,
            )
            if plan.recall_id is not None:
                copy_rows(
                    connection, "recalled_parts", ("recall_id", "part_id"), ((plan.recall_id, p.id) for p in parts)
                )
            counts["events"] += copy_rows(connection, STAGING_EVENTS, EVENT_COLUMNS, simulation.events)
            alerts.extend(simulation.alerts)
    return {"alerts": alerts, "counts": counts}
