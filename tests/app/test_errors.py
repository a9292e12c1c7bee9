"""Domain errors: user text is a detail, never part of the message template."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput, NotFound, fill_in


def test_error_message_fills_in_only_its_named_details():
    error = InvalidInput("book at least %(minutes)s minutes ahead", field="start", minutes=60)

    assert error.message == "book at least 60 minutes ahead"
    assert error.to_dict()["error"]["minutes"] == 60


@pytest.mark.parametrize("text", ["%(x)s", "%(", "%s %d", "100%", "%(minutes)s"])
def test_user_text_in_a_detail_is_shown_as_it_is(text):
    error = NotFound("no shop with code %(shop)r", field="code", shop=text)

    assert error.message == f"no shop with code {text!r}"


def test_detail_named_like_a_body_key_does_not_replace_it():
    error = NotFound("no shop with code %(code)r", field="code", code="X")

    assert error.to_dict()["error"]["code"] == "not_found"


def test_fill_in_leaves_unknown_placeholders_alone():
    assert fill_in("%(a)s and %(b)s", {"a": "%(b)s"}) == "%(b)s and %(b)s"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/shops/%25(x)s",
        "/api/v1/part-types/%25(x)s",
        "/shops/%25(x)s",
        "/api/v1/organizations/%25(x)s",
        "/api/v1/vehicles/%25(x)s",
        "/api/v1/recalls/%25(x)s/vehicles",
    ],
)
def test_percent_paren_in_a_public_path_is_never_a_500(client, session, path):
    from tests.factories import auth_header, make_user

    response = client.get(path, headers=auth_header(session, make_user(session)))

    assert response.status_code in (400, 404)
    assert "%(x)s" in response.get_data(as_text=True)


def test_percent_paren_in_a_json_key_is_a_400_naming_it(client, session):
    response = client.post(
        "/api/v1/auth/register",
        json={"name": "x", "phone": "13912345678", "password": "long-enough-9", "code": "1", "%(x)s": 1},
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "%(x)s"
