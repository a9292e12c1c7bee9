"""The API contract: declared access on every endpoint, one error shape, never a 500 for bad input, OpenAPI."""

from __future__ import annotations

import re

import pytest

from app.security import Role
from app.web.endpoints import PUBLIC, REGISTRY, SIGNED_IN
from tests.factories import auth_header, make_user, sign_in_client

ROLES = list(Role)
# Served under /api/v1 but not an endpoint of its own: the document that describes the others.
UNDECLARED_ALLOWED = {"/api/v1/openapi.json"}


def concrete_path(path: str) -> str:
    """Fill a route's placeholders with values that exist nowhere."""
    return re.sub(r"<int:\w+>", "999999", re.sub(r"<(?!int:)(?:\w+:)?\w+>", "NOPE", path))


def declared_specs(app):
    served = {rule.rule for rule in app.url_map.iter_rules()}
    return [spec for spec in REGISTRY if spec.path in served]


def test_every_api_route_is_declared_through_api_blueprint(app):
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        and rule.rule not in UNDECLARED_ALLOWED
        and not hasattr(app.view_functions[rule.endpoint], "endpoint_spec")
    ]

    assert undeclared == []


def test_anonymous_callers_get_401_from_every_non_public_endpoint(app, client):
    answers = {}
    for spec in declared_specs(app):
        if spec.access == PUBLIC:
            continue
        response = client.open(concrete_path(spec.path), method=spec.method, json={})
        answers[f"{spec.method} {spec.path}"] = (response.status_code, response.json["error"]["code"])

    assert answers and set(answers.values()) == {(401, "not_authenticated")}


@pytest.mark.parametrize("role", ROLES)
def test_roles_outside_an_endpoints_access_get_403(app, client, session, role):
    headers = auth_header(session, make_user(session, role))
    answers = {}
    for spec in declared_specs(app):
        if spec.access in (PUBLIC, SIGNED_IN) or role in spec.access:
            continue
        response = client.open(concrete_path(spec.path), method=spec.method, json={}, headers=headers)
        answers[f"{spec.method} {spec.path}"] = response.status_code

    assert set(answers.values()) <= {403}


def test_error_shape_for_malformed_json(client, session):
    headers = auth_header(session, make_user(session))

    response = client.post("/api/v1/organizations", data="{not json", content_type="application/json", headers=headers)

    assert response.status_code == 400
    assert response.json == {"error": {"code": "invalid", "message": "the body is not valid JSON", "field": "body"}}


@pytest.mark.parametrize(
    ("data", "content_type", "field"),
    [
        ("", "application/json", "body"),
        ("[1, 2]", "application/json", "body"),
        ('"text"', "application/json", "body"),
        ("null", "application/json", "body"),
        ('{"kind": "dealer"}', "text/plain", "body"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "colour": "red"}', "application/json", "colour"),
        ('{"kind": "garage", "code": "AB", "name": "x"}', "application/json", "kind"),
        ('{"kind": "dealer", "code": 12, "name": "x"}', "application/json", "code"),
        ('{"kind": "dealer", "name": "x"}', "application/json", "code"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "lat": true, "lon": 1}', "application/json", "lat"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "lat": NaN, "lon": 1}', "application/json", "lat"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "lat": 91, "lon": 1}', "application/json", "lat"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "lat": 30}', "application/json", "lon"),
        ('{"kind": "dealer", "code": "AB", "name": "x", "province": "Atlantis"}', "application/json", "province"),
        ('{"kind": "dealer", "code": "A B", "name": "x"}', "application/json", "code"),
    ],
)
def test_bad_bodies_get_400_naming_the_field(client, session, data, content_type, field):
    headers = auth_header(session, make_user(session))

    response = client.post("/api/v1/organizations", data=data, content_type=content_type, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid"
    assert response.json["error"]["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [("per_page=0", "per_page"), ("per_page=100000", "per_page"), ("page=abc", "page"), ("kind=garage", "kind")],
)
def test_bad_query_parameters_get_400_naming_the_field(client, session, query, field):
    headers = auth_header(session, make_user(session))

    response = client.get(f"/api/v1/organizations?{query}", headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field


def test_oversized_body_gets_413_in_json(app, client, session):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    headers = auth_header(session, make_user(session))

    response = client.post(
        "/api/v1/organizations", data='{"name": "' + "x" * 2000 + '"}', content_type="application/json", headers=headers
    )

    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"


def test_unknown_api_path_gets_404_in_json(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_wrong_method_gets_405_in_json(client):
    response = client.put("/api/v1/organizations", json={})

    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_is_valid_and_lists_every_endpoint(app, client, validate_openapi):
    document = client.get("/api/v1/openapi.json").json

    validate_openapi(document)
    listed = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    expected = {(spec.method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", spec.path)) for spec in declared_specs(app)}
    assert listed == expected


def test_openapi_document_shows_request_schemas_and_enums(client):
    document = client.get("/api/v1/openapi.json").json

    schemas = document["components"]["schemas"]
    assert set(schemas["OrganizationKind"]["enum"]) == {"oem", "factory", "warehouse", "dealer", "shop", "fleet"}
    assert "vin" in schemas["VehicleIn"]["required"]


def test_api_docs_page_needs_no_external_assets(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert "/api/v1/vehicles/{vin}/transfer" in response.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)


def test_api_docs_page_in_the_browser(page):
    page.goto("/api/docs")

    page.locator("summary", has_text="/api/v1/auth/tokens").first.click()

    assert page.locator("h1").inner_text().startswith("Milepost API")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_healthz_reports_the_dialect(client, database_url):
    response = client.get("/healthz")

    assert response.json["dialect"] == ("postgresql" if database_url.startswith("postgresql") else "sqlite")


def test_pagination_follows_configured_page_sizes(session, connection, database_url, tmp_path, monkeypatch):
    from milepost.factory import create_app
    from tests.conftest import test_settings
    from tests.factories import auth_header, make_organization, make_user

    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(test_settings(database_url, PAGE_SIZE=2, MAX_PAGE_SIZE=3), connection=connection)
    for _ in range(4):
        make_organization(session, kind="fleet")
    headers = auth_header(session, make_user(session))
    client = app.test_client()

    default_page = client.get("/api/v1/organizations?kind=fleet", headers=headers)
    too_large = client.get("/api/v1/organizations?kind=fleet&per_page=4", headers=headers)

    assert len(default_page.json["items"]) == 2 and default_page.json["per_page"] == 2
    assert too_large.status_code == 400 and too_large.json["error"]["field"] == "per_page"


def test_validation_error_keeps_a_field_whose_name_looks_like_a_type():
    from datetime import date as Date

    from pydantic import ValidationError

    from app.web.endpoints import QuerySchema, validation_error

    class DayQuery(QuerySchema):
        date: Date
        lat: float | str

    try:
        DayQuery.model_validate({"date": "yesterday-ish", "lat": 1.0})
    except ValidationError as error:
        named = validation_error(error, DayQuery).field

    assert named == "date"


def test_validation_error_drops_union_member_tags():
    from pydantic import ValidationError

    from app.web.endpoints import QuerySchema, validation_error

    class PointQuery(QuerySchema):
        lat: float | int

    try:
        PointQuery.model_validate({"lat": "north"})
    except ValidationError as error:
        named = validation_error(error, PointQuery).field

    assert named == "lat"


def test_path_integer_beyond_bigint_is_not_found(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    sign_in_client(client, oem)

    response = client.get(f"/crm/customers/{2**64}")

    assert response.status_code == 404


def test_page_number_too_large_for_an_offset_is_a_400_naming_page(client, session):
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.get(f"/api/v1/organizations?page={2**62}", headers=auth_header(session, oem))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "page"
