"""Service desk demo data: queues and agents, SLA policies, canned answers, and requests in every state across
the queues (some near breach), built through the service's own functions."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.models import Customer, Organization, OrganizationKind, Vehicle
from app.db import utcnow
from app.security import Role, User, create_user
from network.models import Booking, Shop
from service.assignment import dispatch_backlog, take_request
from service.canned import create_canned_answer
from service.intake import NewRequest, open_request
from service.models import Category, Channel, LinkKind, Presence, SlaPolicy
from service.queues import OEM_DESK, OEM_NETWORK, OEM_PARTS, add_member, ensure_oem_queues, organization_queue
from service.replies import add_customer_message, add_reply, change_status, deflect_request
from service.settings import service_settings
from service.sla import advance_clocks
from service.surveys import answer_survey, send_survey
from service.transfers import transfer_request

DEMO_PASSWORD = "milepost-demo"
AGENTS = (
    ("desk1@milepost.demo", "客服 小王", OEM_DESK, 6),
    ("desk2@milepost.demo", "客服 小李", OEM_DESK, 6),
    ("desk3@milepost.demo", "客服 小赵", OEM_DESK, 2),
    ("network@milepost.demo", "网络管理 周经理", OEM_NETWORK, 10),
    ("parts@milepost.demo", "配件 陈工", OEM_PARTS, 10),
)
POLICIES = (
    # queue, category, priority, first response, next response, resolution (working minutes)
    (OEM_DESK, None, None, 30, 120, 960),
    (OEM_DESK, None, "p1", 10, 30, 240),
    (OEM_NETWORK, None, None, 240, 480, 4800),
    (OEM_PARTS, None, None, 120, 480, 2400),
    (None, None, None, 120, 480, 2400),
)
CANNED = (
    (
        "/xl",
        "修理进度",
        {
            "zh": "{customer.name}您好，车辆 {vehicle.plate} 正在维修，预计今天完成。服务单号 {request.number}。",
            "en": "Hello {customer.name}, truck {vehicle.plate} is being repaired and should be ready today "
            "({request.number}).",
        },
    ),
    (
        "/hf",
        "回电",
        {
            "zh": "您好，我是{agent.name}，稍后给您回电，请保持电话畅通。",
            "en": "Hello, this is {agent.name}; I will call you back shortly.",
        },
    ),
    (
        "/yy",
        "预约确认",
        {
            "zh": "已为您联系 {shop.name}（电话 {shop.phone}），预约时间 {booking.start}。",
            "en": "We contacted {shop.name} ({shop.phone}); your booking is at {booking.start}.",
        },
    ),
    (
        "/zj",
        "真伪查验",
        {
            "zh": "请在安装前扫描配件上的二维码；显示“假冒”请勿安装，我们已通知配件团队。",
            "en": "Please scan the part's code before fitting it; if it says counterfeit, do not fit it. "
            "Our parts team is informed.",
        },
    ),
)
STORIES = (
    # category, text, channel, hours ago, what happened next
    (Category.FAULT, "仪表盘机油压力灯亮，SPN 100 FMI 1", Channel.PAGE, 0.2, "new"),
    (Category.FAULT, "尿素液位报警，加了尿素还亮", Channel.API, 0.6, "near_breach"),
    (Category.OTHER, "", Channel.CALLBACK, 0.4, "near_breach"),
    (Category.BRAKES_STEERING, "刹车跑偏，高速上不敢开快", Channel.PHONE, 0.3, "answered"),
    (Category.FAULT, "DPF 再生频繁，油耗高", Channel.WECOM, 26, "waiting_on_parts"),
    (Category.PARTS, "想买原厂空滤，哪里有货", Channel.PAGE, 30, "waiting_on_customer"),
    (Category.COUNTERFEIT, "扫码显示可疑，卖家说是正品", Channel.SCAN_REPORT, 5, "answered"),
    (Category.FAULT, "涡轮增压异响", Channel.PAGE, 50, "resolved_happy"),
    (Category.OTHER, "保养周期怎么算", Channel.API, 70, "resolved_happy"),
    (Category.FAULT, "冷却液温度高", Channel.PAGE, 90, "resolved_unhappy"),
    (Category.FAULT, "SPN 3251 FMI 0 DPF 压差高", Channel.PAGE, 20, "deflected"),
    (Category.FAULT, "蓄电池电压低 SPN 168 FMI 1", Channel.API, 40, "deflected"),
    (Category.OTHER, "发票怎么开", Channel.PHONE, 120, "closed"),
    (Category.FAULT, "换挡困难", Channel.PAGE, 3, "breached"),
    (Category.FAULT, "空调不制冷", Channel.PAGE, 1.5, "waiting"),
    (Category.FAULT, "ABS 灯常亮", Channel.PAGE, 1.2, "waiting"),
)


def _agent(session: Session, email: str, name: str, organization: Organization) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = create_user(
            session,
            role=Role.OEM_ADMIN,
            password=DEMO_PASSWORD,
            email=email,
            organization_id=organization.id,
            display_name=name,
        )
    return user


def _new(customer: Customer, vehicle: Vehicle | None, category: str, text: str, channel: str) -> NewRequest:
    return NewRequest(
        channel=channel,
        category=category,
        subject="",
        body=text,
        customer=customer,
        vehicle=vehicle,
        callback=channel == Channel.CALLBACK,
        priority="p2" if channel == Channel.CALLBACK else "p3",
    )


def seed_logins(session: Session) -> list[str]:
    """Create the service desk agents' accounts (the first phase of `milepost serve --demo`, so that they can sign
    in while the worker builds the desk's queues and requests); return the login line."""
    oem = session.scalar(select(Organization).where(Organization.kind == OrganizationKind.OEM))
    if oem is None:
        return []
    for email, name, _code, _capacity in AGENTS:
        _agent(session, email, name, oem)
    return [
        f"Service desk agents  {', '.join(email for email, *_rest in AGENTS)} / {DEMO_PASSWORD} "
        "(console at /service/console)"
    ]


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add the service desk's queues, agents, policies, canned answers and requests; return notes to print."""
    oem = session.scalar(select(Organization).where(Organization.kind == OrganizationKind.OEM))
    customers = list(session.scalars(select(Customer).order_by(Customer.id).limit(200)))
    if oem is None or not customers:
        return ["Service: no OEM or customers yet; service demo skipped"]
    settings = service_settings(load_settings())
    now = utcnow()
    queues = ensure_oem_queues(session)
    manager = session.scalar(select(User).where(User.email == "oem@milepost.demo"))
    agents = {}
    for email, name, code, capacity in AGENTS:
        agents[email] = _agent(session, email, name, oem)
        add_member(session, queues[code], agents[email], capacity=capacity, presence=Presence.ONLINE)
    if manager is not None:
        for queue in queues.values():
            queue.supervisor_id = manager.id
            add_member(session, queue, manager, capacity=0, presence=Presence.AWAY)
    _organization_queues(session)
    for code, category, priority, first, following, resolution in POLICIES:
        session.add(
            SlaPolicy(
                name=f"{code or 'default'} {priority or ''}".strip(),
                queue_id=queues[code].id if code else None,
                category=category,
                priority=priority,
                first_response_minutes=first,
                next_response_minutes=following,
                resolution_minutes=resolution,
            )
        )
    for shortcut, title, bodies in CANNED:
        create_canned_answer(session, shortcut=shortcut, title=title, bodies=bodies)
    session.flush()
    counts = _stories(session, rng, customers, agents, settings, now, track)
    counts.update(_complaint(session, rng, agents, settings, now))
    advance_clocks(session, settings, now)
    return [f"Service: {sum(counts.values())} requests ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"]


def _organization_queues(session: Session) -> None:
    """Give the demo shop's and dealer's staff their own queues."""
    for email in ("shop@milepost.demo", "dealer@milepost.demo"):
        user = session.scalar(select(User).where(User.email == email))
        if user is None or user.organization_id is None:
            continue
        organization = session.get(Organization, user.organization_id)
        shop = session.scalar(select(Shop).where(Shop.organization_id == organization.id))
        queue = organization_queue(
            session, organization, (shop.opening_hours or None) if shop else None, bool(shop and shop.open_24h)
        )
        add_member(session, queue, user, capacity=5, presence=Presence.ONLINE)


def _stories(session, rng, customers, agents, settings, now, track) -> dict[str, int]:
    counts: dict[str, int] = {}
    desk_agents = [agents[email] for email, _name, code, _cap in AGENTS if code == OEM_DESK]
    # The demo driver (13800138000) gets the first stories, so their "my requests" page has something in it.
    people = [customers[0]] + rng.sample(customers[1:], min(len(customers) - 1, len(STORIES)))
    for (category, text, channel, hours, fate), customer in track(
        list(zip(STORIES, people, strict=False)), "Service requests"
    ):
        opened = now - timedelta(hours=hours)
        vehicle = session.scalar(select(Vehicle).where(Vehicle.owner_id == customer.id).limit(1))
        actor = desk_agents[0] if channel == Channel.PHONE else None
        request = open_request(
            session, actor, _new(customer, vehicle, category, text, channel), settings, opened, rng=rng
        )
        counts[fate] = counts.get(fate, 0) + 1
        _play(session, rng, request, fate, opened, now, agents, desk_agents, settings)
    return counts


def _worker(session, request, desk_agents, agents, moment: datetime, settings) -> User:
    if request.assignee_id is not None:
        return session.get(User, request.assignee_id)
    members = {member.user_id for member in request.queue.members if member.capacity != 0}
    pool = [agent for agent in [*desk_agents, *agents.values()] if agent.id in members]
    if not pool:
        # A dealer queue nobody works in the demo: the OEM desk picks the request up.
        transfer_request(session, None, request, ensure_oem_queues(session)[OEM_DESK], settings, moment)
        if request.assignee_id is not None:
            return session.get(User, request.assignee_id)
        pool = desk_agents
    agent = pool[0]
    take_request(session, agent, request, moment)
    return agent


def _play(session, rng, request, fate, opened, now, agents, desk_agents, settings) -> None:
    """Move a demo request along its story, at believable times after it was opened."""
    if fate in ("new", "near_breach", "waiting", "breached"):
        return
    if fate == "deflected":
        deflect_request(
            session, request.customer.user or _driver_user(session, request), request, opened + timedelta(minutes=3)
        )
        return
    step = min((now - opened) / 4, timedelta(hours=2))
    agent = _worker(session, request, desk_agents, agents, opened + step / 2, settings)
    add_reply(session, agent, request, "您好，已收到，正在为您查询。", "customer", settings, opened + step)
    if fate == "answered":
        return
    if fate in ("waiting_on_parts", "waiting_on_customer"):
        change_status(session, agent, request, fate, settings, opened + step * 2)
        return
    add_customer_message(session, None, request, "好的，谢谢", settings, opened + step * 2, "page")
    add_reply(session, agent, request, "已处理完毕，如有问题请随时联系。", "customer", settings, opened + step * 3)
    change_status(session, agent, request, "resolved", settings, opened + step * 3)
    if fate == "closed":
        change_status(session, agent, request, "closed", settings, opened + step * 4)
        return
    token = send_survey(session, request, settings, opened + step * 3)
    if token is not None:
        happy = fate == "resolved_happy"
        answer_survey(
            session,
            token,
            solved=happy,
            stars=rng.choice((4, 5)) if happy else rng.choice((1, 2)),
            comment="" if happy else "等太久了",
            now=opened + step * 4,
        )


def _driver_user(session, request) -> User:
    """Give a demo customer without an account one, so they can mark their request solved."""
    customer = request.customer
    user = create_user(
        session, role=Role.DRIVER, password=DEMO_PASSWORD, phone=customer.phone, display_name=customer.name
    )
    customer.user = user
    session.flush()
    return user


def _complaint(session, rng, agents, settings, now) -> dict[str, int]:
    """A driver's complaint about a shop that rejected their booking: the OEM network team has it."""
    booking = session.scalar(select(Booking).where(Booking.status.in_(("rejected", "no_show", "cancelled"))).limit(1))
    if booking is None:
        return {}
    opened = now - timedelta(hours=6)
    new = NewRequest(
        channel=Channel.BOOKING,
        category=Category.COMPLAINT,
        subject="",
        body="到店后说没有工位，白跑一趟",
        customer=booking.customer,
        vehicle=booking.vehicle,
        links=[(LinkKind.BOOKING, booking.id), (LinkKind.SHOP, booking.shop_id)],
        concerns_organization=booking.shop.organization,
        external_ref=f"booking:{booking.id}",
    )
    request = open_request(session, None, new, settings, opened, rng=rng)
    dispatch_backlog(session, request.queue, opened)
    agent = agents["network@milepost.demo"]
    if request.assignee_id is None:
        take_request(session, agent, request, opened + timedelta(minutes=30))
    add_reply(
        session,
        agent,
        request,
        "已联系服务站核实，情况属实，已要求整改。",
        "customer",
        settings,
        opened + timedelta(hours=2),
    )
    change_status(session, agent, request, "resolved", settings, opened + timedelta(hours=3), outcome="upheld")
    return {"complaint": 1}
