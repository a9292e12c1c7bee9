"""A realistic demo data set, built through the domains' own services (never by raw inserts)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.crm.customers import create_customer, register_driver
from app.crm.identifiers import vin_check_digit
from app.crm.models import Customer, Organization, OrganizationKind, Vehicle
from app.crm.organizations import create_organization
from app.crm.places import china_cities
from app.crm.regions import PROVINCES
from app.crm.vehicles import register_vehicle
from app.db import SESSIONMAKER_KEY, commit_checkpoint, reading_only, run_in_transaction, utcnow, work_label
from app.jobs import JobQueue
from app.one_time_codes import PhoneProof
from app.security import Role, User, create_user

DEMO_PASSWORD = "milepost-demo"
DEMO_OEM_EMAIL = "oem@milepost.demo"
DEMO_LOGINS_FILE = "demo-logins.txt"
DEMO_DRIVER_PHONE = "13800138000"
# The job that builds the rest of the demo in the worker after `milepost serve --demo` built the first steps.
DEMO_JOB = "core.build_demo"
# The worker commits its demo work about once a second and then pauses briefly: SQLite writers waiting on the busy
# timeout (a sign-in, a scan, another job) take the write lock in the pause instead of waiting behind the build.
CHECKPOINT_SECONDS = 1.0
CHECKPOINT_PAUSE_SECONDS = 0.1
Seeder = Callable[[Session, random.Random, str, Callable[[Iterable, str], Iterable]], list[str]]
SIZES = {"small": {"dealers": 20, "customers": 60}, "full": {"dealers": 200, "customers": 3000}}
TRUCK_MODELS = (
    "豪沃 TX 6x4 牵引车",
    "豪沃 T7H 6x4 牵引车",
    "汕德卡 C7H 6x4 牵引车",
    "豪沃 8x4 自卸车",
    "豪沃 NX 6x4 搅拌车",
    "豪沃 TH7 4x2 牵引车",
    "汕德卡 G7 6x2 载货车",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = (
    "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康"
    "星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗"
)
# Sinotruk's world manufacturer identifier; model years 2018-2025 by their VIN year codes.
WMI = "LZZ"
YEAR_CODES = "JKLMNPRS"


def make_vin(rng: random.Random) -> str:
    """Return a random VIN with a correct check digit."""
    allowed = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    vds = "".join(rng.choice(allowed) for _ in range(5))
    body = WMI + vds + "0" + rng.choice(YEAR_CODES) + rng.choice("ABCDEFGH") + f"{rng.randrange(10**6):06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def make_phone(rng: random.Random, used: set[str]) -> str:
    """Return a random unused Chinese mobile number."""
    while True:
        phone = rng.choice(("138", "139", "150", "151", "186", "187", "135", "177")) + f"{rng.randrange(10**8):08d}"
        if phone not in used:
            used.add(phone)
            return phone


def chinese_cities(min_population: int = 100000) -> list[dict]:
    """Return Chinese cities from GeoNames with their province and Chinese name, largest first."""
    return [
        {
            "name": city.name,
            "name_zh": city.name_zh or city.name,
            "lat": city.lat,
            "lon": city.lon,
            "population": city.population,
            "province": city.province,
        }
        for city in china_cities()
        if city.province is not None and city.population >= min_population
    ]


def track_with_bar(iterable: Iterable, label: str) -> Iterator:
    """Wrap `iterable` in a progress bar on the terminal."""
    items = list(iterable)
    with click.progressbar(items, label=label.ljust(28), show_pos=True) as bar:
        yield from bar


@contextmanager
def _timed(label: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    click.echo(f"{label} in {time.perf_counter() - start:.1f} s")


def seed_core(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Create the OEM, factories, warehouses, dealers, fleets, customers and vehicles."""
    counts = SIZES[size]
    cities = chinese_cities()
    capitals = {
        province.name: city
        for province in PROVINCES
        for city in cities
        if city["province"] == province.name and city["name"] == province.capital
    }
    oem = create_organization(
        session,
        kind=OrganizationKind.OEM,
        code="OEM",
        name="中国重汽（演示）",
        province="Shandong",
        city="Jinan",
        lat=36.6683,
        lon=116.9972,
    )
    factories = [
        ("FAC-JINAN", "济南发动机厂", "Shandong", "Jinan", 36.67, 117.0),
        ("FAC-HANGZHOU", "杭州变速箱厂", "Zhejiang", "Hangzhou", 30.29, 120.16),
        ("FAC-SHIYAN", "十堰车桥厂", "Hubei", "Shiyan", 32.63, 110.8),
    ]
    for code, name, province, city, lat, lon in factories:
        create_organization(
            session, kind=OrganizationKind.FACTORY, code=code, name=name, province=province, city=city, lat=lat, lon=lon
        )
    for province in track(PROVINCES, "Parts warehouses"):
        capital = capitals.get(province.name)
        if capital is None:
            continue
        code = "WH-" + province.name.replace(" ", "").upper()
        create_organization(
            session,
            kind=OrganizationKind.WAREHOUSE,
            code=code,
            name=f"{province.name_zh}配件中心库",
            province=province.name,
            city=capital["name"],
            lat=capital["lat"],
            lon=capital["lon"],
        )
    dealer_cities = cities[: counts["dealers"]]
    dealers = []
    for index, city in enumerate(track(dealer_cities, "Dealers"), start=1):
        dealers.append(
            create_organization(
                session,
                kind=OrganizationKind.DEALER,
                code=f"DLR-{index:04d}",
                name=f"{city['name_zh']}重卡销售 {index}",
                province=city["province"],
                city=city["name"],
                lat=city["lat"] + rng.uniform(-0.05, 0.05),
                lon=city["lon"] + rng.uniform(-0.05, 0.05),
            )
        )
    for index, city in enumerate(cities[:10], start=1):
        create_organization(
            session,
            kind=OrganizationKind.FLEET,
            code=f"FLT-{index:03d}",
            name=f"{city['name_zh']}物流车队",
            province=city["province"],
            city=city["name"],
        )

    create_user(
        session,
        role=Role.OEM_ADMIN,
        password=DEMO_PASSWORD,
        email=DEMO_OEM_EMAIL,
        organization_id=oem.id,
        display_name="主机厂网络经理",
    )
    factory = session.scalar(select(Organization).where(Organization.code == "FAC-JINAN"))
    create_user(
        session,
        role=Role.FACTORY_STAFF,
        password=DEMO_PASSWORD,
        email="factory@milepost.demo",
        organization_id=factory.id,
        display_name="济南工厂",
    )
    warehouse = session.scalar(select(Organization).where(Organization.kind == OrganizationKind.WAREHOUSE))
    create_user(
        session,
        role=Role.WAREHOUSE_STAFF,
        password=DEMO_PASSWORD,
        email="warehouse@milepost.demo",
        organization_id=warehouse.id,
        display_name=warehouse.name,
    )
    create_user(
        session,
        role=Role.DEALER_STAFF,
        password=DEMO_PASSWORD,
        email="dealer@milepost.demo",
        organization_id=dealers[0].id,
        display_name=dealers[0].name,
    )

    driver = register_driver(
        session, name="王师傅", proof=PhoneProof.by_operator(DEMO_DRIVER_PHONE), password=DEMO_PASSWORD
    )
    register_vehicle(
        session,
        vin=make_vin(rng),
        model=TRUCK_MODELS[0],
        owner=driver,
        plate="豫A12345",
        dealer_code=dealers[0].code,
        sale_date=date.today() - timedelta(days=400),
        odometer_km=182000,
    )
    # Every demo truck was sold by a demo dealer: its record is verified, as the dealer's sale would make it.
    session.execute(update(Vehicle).values(verified_at=utcnow()))
    return [
        f"OEM network manager  oem@milepost.demo / {DEMO_PASSWORD}",
        f"Factory staff        factory@milepost.demo / {DEMO_PASSWORD}",
        f"Warehouse staff      warehouse@milepost.demo / {DEMO_PASSWORD}",
        f"Dealer staff         dealer@milepost.demo / {DEMO_PASSWORD}",
        f"Driver               {DEMO_DRIVER_PHONE} / {DEMO_PASSWORD}",
    ]


def seed_customers(
    session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]
) -> list[str]:
    """Add the drivers and fleet customers with their trucks, sold by the demo dealers."""
    dealers = list(
        session.scalars(
            select(Organization).where(Organization.kind == OrganizationKind.DEALER).order_by(Organization.code)
        )
    )
    fleets = list(
        session.scalars(
            select(Organization).where(Organization.kind == OrganizationKind.FLEET).order_by(Organization.code)
        )
    )
    used_phones = set(session.scalars(select(Customer.phone).where(Customer.phone.is_not(None))))
    today = date.today()
    for _ in track(range(SIZES[size]["customers"]), "Customers and vehicles"):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        fleet = rng.choice(fleets) if rng.random() < 0.3 else None
        customer = create_customer(
            session,
            kind="driver",
            name=name,
            phone=make_phone(rng, used_phones),
            fleet_code=fleet.code if fleet else None,
        )
        dealer = rng.choice(dealers)
        province = next(p for p in PROVINCES if p.name == dealer.province)
        for _vehicle in range(rng.choice((1, 1, 1, 2, 3))):
            plate = province.plate_character + rng.choice("ABCDEFGH") + f"{rng.randrange(10**5):05d}"
            register_vehicle(
                session,
                vin=make_vin(rng),
                model=rng.choice(TRUCK_MODELS),
                owner=customer,
                plate=plate,
                dealer_code=dealer.code,
                sale_date=today - timedelta(days=rng.randrange(30, 2500)),
                odometer_km=rng.randrange(5000, 900000),
            )
    session.execute(update(Vehicle).where(Vehicle.verified_at.is_(None)).values(verified_at=utcnow()))
    return []


def seed_logins(session: Session, rng: random.Random, size: str, track) -> list[str]:
    """Create every other account the demo prints (the demo shop's staff with their shop, the dealer's
    salespeople, the service desk's agents), so that each can sign in from the first start: the later steps find
    them and give them their work."""
    from leads import demo as leads_demo
    from network import demo as network_demo
    from service import demo as service_demo

    return [
        *network_demo.seed_logins(session),
        *leads_demo.seed_logins(session),
        *service_demo.seed_logins(session),
        "Text messages (sign-up codes) are not sent in the demo: each is printed here and kept in instance/sms.log",
    ]


@dataclass(frozen=True)
class DemoStep:
    """One step of the demo build: a domain's seeder (session, rng, size, track) -> lines to print; `pauses`: the
    periodic jobs kept from running while the worker's build of the step commits as it goes (a job that would act on
    its half-built records at the real time, such as the leads' minute tick on a simulated history)."""

    name: str
    seed: Seeder
    pauses: tuple[str, ...] = ()


def demo_steps() -> tuple[list[DemoStep], list[DemoStep]]:
    """Return the steps that build what the first pages need (every login, the demo driver's truck), then the rest."""
    from community import demo as community_demo
    from knowledge import demo as knowledge_demo
    from leads import demo as leads_demo
    from leads.rules import ADVANCE_JOB
    from maintenance import demo as maintenance_demo
    from milepost.demo_work import seed_work
    from network import demo as network_demo
    from reviews import demo as reviews_demo
    from service import demo as service_demo
    from traceability import demo as traceability_demo

    first = [DemoStep("core", seed_core), DemoStep("logins", seed_logins)]
    rest = [
        DemoStep("customers", seed_customers),
        DemoStep("network", network_demo.seed),
        DemoStep("traceability", traceability_demo.seed),
        DemoStep("reviews", reviews_demo.seed),
        # The two evaluation runs are the heaviest part of the reviews demo: a step (a transaction) of their own.
        DemoStep("certification", reviews_demo.seed_certification),
        DemoStep("knowledge", knowledge_demo.seed),
        DemoStep("service", service_demo.seed),
        DemoStep("community", community_demo.seed),
        DemoStep("leads", leads_demo.seed, pauses=(ADVANCE_JOB,)),
        DemoStep("maintenance", maintenance_demo.seed),
        DemoStep("work", seed_work),
        DemoStep("coverage", seed_coverage),
    ]
    return first, rest


def seed_coverage(session: Session, rng: random.Random, size: str, track) -> list[str]:
    """Keep the dashboard's coverage figure for the demo network now (the worker refreshes it every 15 minutes)."""
    from app.config import load_settings
    from network.caches import coverage_samples, route_network
    from network.coverage import keep_coverage_rollup, measure_coverage
    from network.settings import network_settings

    settings = network_settings(load_settings())
    caches: dict = {}
    # The computation reads for seconds: in the worker's build, outside the write lock.
    with reading_part(track):
        samples, routes = coverage_samples(session, caches, settings), route_network(session, caches, settings)
        report = measure_coverage(session, samples, routes, settings.coverage_radius_km)
    rollup = keep_coverage_rollup(session, report, settings.coverage_radius_km, utcnow())
    return [
        f"Coverage: {rollup.percent} % of expressway km within {settings.coverage_radius_km:g} km of a certified shop"
    ]


def _rngs(seed: int) -> tuple[random.Random, random.Random]:
    # The rest has a generator of its own, so that it draws the same whether it runs in this process right after
    # the first steps (`milepost demo`) or later in the worker (`milepost serve --demo`): same seed, same data.
    return random.Random(seed), random.Random(f"{seed}:rest")


def _run_steps(
    session: Session, steps: list[DemoStep], rng: random.Random, size: str, track, report=None, offset: int = 0
) -> list[str]:
    lines = []
    for number, step in enumerate(steps, start=offset + 1):
        started = time.perf_counter()
        lines.extend(step.seed(session, rng, size, track))
        if report is not None:
            report(number, step, time.perf_counter() - started)
    return lines


def load_demo(app: Flask, size: str = "full", seed: int = 2026) -> list[str]:
    """Build the whole demo data set in one transaction, printing each step's progress, and print the logins."""
    first, rest = demo_steps()
    first_rng, rest_rng = _rngs(seed)
    total = len(first) + len(rest)

    def report(number: int, step: DemoStep, seconds: float) -> None:
        click.echo(f"[{number}/{total}] {step.name} in {seconds:.1f} s")

    def work(session: Session) -> list[str]:
        lines = _run_steps(session, first, first_rng, size, track_with_bar, report)
        return lines + _run_steps(session, rest, rest_rng, size, track_with_bar, report, offset=len(first))

    with _timed("Demo data loaded"):
        logins = run_in_transaction(app.extensions[SESSIONMAKER_KEY], work, retries=0)
    # Kept beside the database so that every later `milepost serve` can print them again (issue 13 item 8).
    _logins_file(app).write_text("\n".join(logins) + "\n", encoding="utf-8")
    _echo_logins(logins)
    return logins


def load_demo_first(app: Flask, size: str = "full", seed: int = 2026) -> list[str]:
    """Build what the first pages need now and queue the rest for the job worker (DEMO_JOB); print the logins."""
    from app.jobs import enqueue

    first, _rest = demo_steps()
    first_rng, _rest_rng = _rngs(seed)

    def work(session: Session) -> list[str]:
        lines = _run_steps(session, first, first_rng, size, _quiet)
        enqueue(session, DEMO_JOB, {"size": size, "seed": seed})
        return lines

    with _timed("First demo data loaded"):
        logins = run_in_transaction(app.extensions[SESSIONMAKER_KEY], work, retries=0)
    _logins_file(app).write_text("\n".join(logins) + "\n", encoding="utf-8")
    _echo_logins(logins)
    click.echo(
        "The rest of the demo (shops, parts, reviews, service desk, leads) is being built by the job worker: "
        "its progress is on the OEM dashboard (/oem); the lines above are printed again on every start."
    )
    return logins


def build_demo_rest(
    make_session: Callable[[], Session] | None,
    session: Session,
    instance_path: str,
    size: str,
    seed: int,
    progress: Callable[[int, int], None],
    queue: JobQueue | None = None,
) -> dict:
    """Build the rest of the demo after its first steps, committing as it goes when given a session factory (so
    that sign-ins, scans and other jobs get SQLite's one write lock in between), else all in `session`; `queue`
    holds each step's paused jobs."""
    _first, rest = demo_steps()
    _first_rng, rng = _rngs(seed)
    path = Path(instance_path) / DEMO_LOGINS_FILE
    seconds: dict[str, float] = {}
    progress(0, len(rest))
    for number, step in enumerate(rest, start=1):
        started = time.perf_counter()
        if make_session is None:
            lines = step.seed(session, rng, size, _quiet)
        else:
            paused = queue.holding(step.pauses) if queue is not None and step.pauses else nullcontext()
            with work_label(f"{DEMO_JOB} step {step.name}"), paused:
                lines = run_in_transaction(
                    make_session, lambda own, step=step: step.seed(own, rng, size, _checkpoints(own)), retries=0
                )
            time.sleep(CHECKPOINT_PAUSE_SECONDS)
        seconds[step.name] = round(time.perf_counter() - started, 1)
        if lines:
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        progress(number, len(rest))
    return {"seconds": seconds, "_progress": (len(rest), len(rest))}


class _Checkpoints:
    """A `track` for the seeders that commits their work about every CHECKPOINT_SECONDS between items.

    A demo step holds SQLite's one write lock for as long as its transaction lasts (a minute or more for the
    network or the reviews under load), longer than the busy timeout other writers wait: sign-ins would fail.
    Every seeder walks its bulk through `track`, so committing there keeps each transaction short. The demo is
    rebuilt from scratch if a step fails, so a half-built step is no harm."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.last = time.monotonic()

    def __call__(self, iterable: Iterable, _label: str) -> Iterator:
        for item in iterable:
            yield item
            self.due()

    def due(self) -> None:
        """Commit if the last commit is more than CHECKPOINT_SECONDS ago (app.db.due_checkpoint_of finds this)."""
        if time.monotonic() - self.last > CHECKPOINT_SECONDS:
            self.checkpoint()

    def checkpoint(self) -> None:
        commit_checkpoint(self.session)
        time.sleep(CHECKPOINT_PAUSE_SECONDS)
        self.last = time.monotonic()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Read in this block outside the write lock (a long computation before a short write)."""
        self.checkpoint()
        with reading_only():
            try:
                yield
            finally:
                self.checkpoint()


def _checkpoints(session: Session) -> _Checkpoints:
    return _Checkpoints(session)


def reading_part(track: Callable[[Iterable, str], Iterable]) -> AbstractContextManager:
    """Return a block for a seeder's long read: outside the write lock where its `track` commits (the worker's
    build), an ordinary part of the one transaction otherwise."""
    return track.reading() if isinstance(track, _Checkpoints) else nullcontext()


def _quiet(iterable: Iterable, _label: str) -> Iterable:
    return iterable


def _logins_file(app: Flask) -> Path:
    return Path(app.instance_path) / DEMO_LOGINS_FILE


def _echo_logins(logins: list[str]) -> None:
    click.echo("Demo logins:")
    for line in logins:
        click.echo(f"  {line}")


def print_demo_logins(app: Flask) -> bool:
    """Print the demo logins again if the demo data is still in the database; tell whether it printed them."""
    path = _logins_file(app)
    if not path.exists():
        return False
    session: Session = app.extensions[SESSIONMAKER_KEY]()
    try:
        present = session.scalar(select(User.id).where(User.email == DEMO_OEM_EMAIL)) is not None
    finally:
        session.close()
    if present:
        _echo_logins(path.read_text(encoding="utf-8").splitlines())
    return present


def load_demo_if_empty(app: Flask, in_worker: bool = False) -> None:
    """Load the demo data unless the database already has customers (then print its logins, if it is the demo);
    `in_worker`: only what the first pages need now, the rest in the job worker."""
    session: Session = app.extensions["milepost.sessionmaker"]()
    try:
        has_data = session.scalar(select(func.count()).select_from(Customer)) > 0
    finally:
        session.close()
    if has_data:
        if not print_demo_logins(app):
            click.echo("Database already has data; demo not loaded.")
        return
    if in_worker:
        load_demo_first(app)
    else:
        load_demo(app)
