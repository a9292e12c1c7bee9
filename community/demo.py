"""Community demo data: a few drivers' threads with accepted answers (one OEM-verified), a post held for review,
and an open report, all written through the domain's own functions."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.customers import register_driver
from app.db import utcnow
from app.one_time_codes import PhoneProof
from app.security import Role, User
from community.answers import accept_answer, post_answer, verify_answer
from community.moderation import report_post
from community.questions import ask_question
from community.settings import community_settings

DEMO_DRIVER_PHONE = "13800138000"
HELPER_PHONE = "13800138001"
DEMO_PASSWORD = "milepost-demo"
# (title, body, codes, answer by another driver, answer by dealer staff)
THREADS = (
    (
        "机油压力灯亮了还能开吗？",
        "京港澳高速上仪表报 SPN 100 FMI 1，机油压力灯亮，油尺看油位正常。",
        ["SPN 100 FMI 1"],
        "我去年也遇到过，是机油压力传感器坏了，换了就好。先别硬开，停车熄火查一下。",
        "机油压力过低必须立即停车。油位正常时多为传感器或线束问题，也可能是机油泵，建议拖到服务站检测。",
    ),
    (
        "尿素报警，车辆限扭怎么办？",
        "国六车，尿素液位够，但一直报 SCR 故障，发动机限扭跑不起来。",
        ["3251/0"],
        "多半是尿素泵或者喷嘴结晶，找有后处理检测的站清洗一下。",
        "尿素品质不合格也会报这个故障。请使用合格的车用尿素，服务站可以检测浓度并清洗尿素喷嘴。",
    ),
    (
        "DPF 再生灯一直亮",
        "跑短途多，DPF 灯常亮，手动再生了一次还是亮。",
        ["P2463"],
        "短途跑得多就容易堵，跑一段高速让它自己再生。",
        "碳载量过高时需要到服务站做驻车再生或清洗 DPF，不要长时间带灯行驶。",
    ),
)


def _demo_driver(session: Session, phone: str, name: str) -> User:
    """Return the demo driver with that phone, registering one (the operator vouches for the phone) if needed."""
    user = session.scalar(select(User).where(User.phone == phone))
    if user is None:
        user = register_driver(session, name=name, proof=PhoneProof.by_operator(phone), password=DEMO_PASSWORD).user
        user.created_at = utcnow() - timedelta(days=400)
    return user


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add this domain's demo records; return lines describing them."""
    settings = community_settings(load_settings())
    # The demo's posters count as trusted (their history predates the demo); only the posts meant to wait do.
    trusted = replace(settings, new_account_days=0, trusted_posts=0)
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    answerer = session.scalar(select(User).where(User.role == Role.DEALER_STAFF).order_by(User.id)) or oem
    asker = _demo_driver(session, DEMO_DRIVER_PHONE, "王师傅")
    helper = _demo_driver(session, HELPER_PHONE, "李师傅")
    start = utcnow() - timedelta(days=3)
    questions = []
    for number, (title, body, codes, driver_answer, staff_answer) in enumerate(THREADS):
        asked = start + timedelta(hours=6 * number)
        question = ask_question(session, asker, title, body, trusted, asked, codes=codes, models=["HOWO TX"])
        by_driver = post_answer(session, helper, question, driver_answer, trusted, asked + timedelta(hours=1))
        by_staff = post_answer(session, answerer, question, staff_answer, trusted, asked + timedelta(hours=2))
        accept_answer(session, asker, by_driver if number % 2 else by_staff, asked + timedelta(hours=3))
        if number == 0:
            verify_answer(session, oem, by_staff, asked + timedelta(hours=4))
        questions.append(question)
    # A keyword hit waits for review; an advert with a phone number is reported (its deadline runs from now).
    held = ask_question(session, helper, "哪里有便宜的高仿配件？加微信聊", "", trusted, utcnow())
    advert = post_answer(session, helper, questions[1], "副厂件便宜，电话 13812345678。", trusted, utcnow())
    report_post(session, asker, advert, "spam", "广告", settings, utcnow())
    session.flush()
    return [
        f"Community: {len(THREADS)} threads with accepted answers (one OEM-verified), question {held.id} held for "
        "review, one open report; see /community and, as the OEM, /community/moderation"
    ]
