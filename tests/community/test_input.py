"""Hostile input is a 4xx naming the field, never a 500: NUL bytes, huge bodies, huge page numbers, bad tags."""

from __future__ import annotations

import pytest

from tests.community.factories import make_poster, make_question
from tests.factories import auth_header, sign_in_client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "机油\x00压力"}, "title"),
        ({"title": "机油压力低", "body": "a\x00b"}, "body"),
        ({"title": "机油压力低", "body": "长" * 5001}, "body"),
        ({"title": "长" * 151}, "title"),
        ({"title": "机油压力低", "codes": ["SPN 999999999 FMI 1"]}, "codes"),
        ({"title": "机油压力低", "codes": ["nonsense"]}, "codes"),
        ({"title": "机油压力低", "part_numbers": ["NO-SUCH-PART"]}, "part_numbers"),
        ({"title": "机油压力低", "models": ["x" * 101]}, "models"),
        ({"title": "机油压力低", "codes": ["100/1"] * 11}, "codes"),
        ({"title": "机油压力低", "extra": 1}, "extra"),
    ],
)
def test_ask_with_hostile_input_is_400_naming_the_field(client, session, body, field):
    headers = auth_header(session, make_poster(session))

    response = client.post("/api/v1/community/questions", json=body, headers=headers)

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_answer_with_a_nul_byte_is_400_naming_body(client, session):
    question = make_question(session, make_poster(session))

    response = client.post(
        f"/api/v1/community/questions/{question.id}/answers",
        json={"body": "换\x00传感器"},
        headers=auth_header(session, make_poster(session)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


def test_a_body_beyond_the_request_limit_is_413(client, session):
    headers = {**auth_header(session, make_poster(session)), "Content-Type": "application/json"}

    response = client.post(
        "/api/v1/community/questions", data=b'{"title": "' + b"x" * 5_000_000 + b'"}', headers=headers
    )

    assert response.status_code == 413


@pytest.mark.parametrize(
    ("query", "field"),
    [({"page": "99999999999999999999"}, "page"), ({"page": "0"}, "page"), ({"per_page": "100000"}, "per_page")],
)
def test_huge_page_numbers_are_400_naming_the_field(client, query, field):
    api = client.get("/api/v1/community/questions", query_string=query)
    page = client.get("/community", query_string=query)

    assert api.status_code == 400
    assert api.get_json()["error"]["field"] == field
    assert page.status_code == 400


def test_a_far_page_within_bounds_is_an_empty_page(client):
    response = client.get("/api/v1/community/questions", query_string={"page": "1000000"})

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_ask_page_with_a_nul_byte_is_a_400_naming_the_field(client, session):
    # Every page form is guarded before its view (app/web/input_guard.py): the error page names the field.
    token = sign_in_client(client, make_poster(session))

    response = client.post("/community/ask", data={"csrf_token": token, "title": "机油\x00压力"})

    assert response.status_code == 400
    assert "title" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/api/v1/community/answers/99999999999999999999/accept", "/api/v1/community/answers/0/accept"]
)
def test_unknown_or_huge_answer_ids_are_404(client, session, path):
    response = client.post(path, headers=auth_header(session, make_poster(session)))

    assert response.status_code == 404


def test_report_with_an_unknown_reason_is_400_naming_reason(client, session):
    question = make_question(session, make_poster(session))

    response = client.post(
        "/api/v1/community/reports",
        json={"kind": "question", "id": question.id, "reason": "boring"},
        headers=auth_header(session, make_poster(session)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "reason"


def test_the_same_answer_sent_twice_is_one_record_and_a_409(client, session):
    question = make_question(session, make_poster(session))
    headers = auth_header(session, make_poster(session))
    path = f"/api/v1/community/questions/{question.id}/answers"

    first = client.post(path, json={"body": "换机油压力传感器"}, headers=headers)
    second = client.post(path, json={"body": "换机油压力传感器"}, headers=headers)

    session.expire_all()
    assert (first.status_code, second.status_code) == (201, 409)
    assert len(question.answers) == 1
