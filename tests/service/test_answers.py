"""The knowledge-base step: answers shown before a person is needed, "this solved it", the deflection rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from service.answers import KnowledgeAnswer, register_answer_source, unregister_answer_source
from service.figures import compute_figures
from service.models import ServiceRequest
from service.queues import ensure_oem_queues
from tests.factories import make_driver, sign_in_client


def dpf_answers(session, text, codes, locale):
    if "3251" in text or any("3251" in code for code in codes):
        return [KnowledgeAnswer(title="DPF 压差高", summary="可继续行驶，尽快到服务站做再生。", code="SPN 3251 FMI 0")]
    return []


@pytest.fixture
def knowledge() -> Iterator[None]:
    register_answer_source(dpf_answers)
    yield
    unregister_answer_source(dpf_answers)


def test_knowledge_answer_is_shown_and_solving_it_deflects_the_request(client, session, knowledge):
    ensure_oem_queues(session)
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)
    client.post("/service/new", data={"csrf_token": csrf, "category": "fault", "text": "SPN 3251 FMI 0 报警"})
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == customer.id))

    page = client.get(f"/service/mine/{request.id}")
    client.post(f"/service/mine/{request.id}", data={"csrf_token": csrf, "action": "solved"})

    assert "DPF 压差高" in page.text and "问题已解决" in page.text
    session.refresh(request)
    assert request.status == "deflected"
    now = utcnow()
    figures = compute_figures(session, now - timedelta(days=1), now + timedelta(minutes=1))
    assert figures["category"]["fault"].deflection_rate == 1.0


def test_without_an_answer_no_solved_button(client, session, knowledge):
    ensure_oem_queues(session)
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)
    client.post("/service/new", data={"csrf_token": csrf, "category": "fault", "text": "方向盘抖"})
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.customer_id == customer.id))

    page = client.get(f"/service/mine/{request.id}")

    assert "问题已解决" not in page.text
