"""Hostile input on every declared endpoint, driven by its own schemas: never a 5xx, always a 4xx naming a field.

Each endpoint gets a body built from its request schema with plausible values, then one field at a time is
replaced by a value of a hostile class (NUL bytes, integers beyond the database's columns, naive datetimes,
deep JSON), as a caller probing the service would send them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.security import Role
from app.web.endpoints import PUBLIC, REGISTRY, SIGNED_IN
from tests.factories import auth_header, make_user

SAMPLES = {"string": "x", "integer": 1, "number": 1.0, "boolean": True}
# The hostile value for a field, by the JSON-schema type and format that field declares.
HOSTILE_BY_TYPE = {
    "nul": ("string", None, "ab\x00cd"),
    "int31": ("integer", None, 2**31),
    "int63": ("integer", None, 2**63),
    "huge_number": ("number", None, 1e308),
    "naive_datetime": ("string", "date-time", "2026-12-01T08:00:00"),
    "unicode_digits": ("string", None, "١٣٨٠٠١٣٨٠٠٠"),
    "format_string": ("string", None, "%(name)s %s %d"),
}


def _resolve(schema: dict, document: dict) -> dict:
    if "$ref" in schema:
        return document["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    return _resolve(options[0], document) if options else schema


def sample_value(schema: dict, document: dict, depth: int = 0) -> Any:
    """Return a plausible value for a JSON-schema property (the first enum member, the minimum, "x")."""
    schema = _resolve(schema, document)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" and depth < 3:
        return {name: sample_value(prop, document, depth + 1) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample_value(schema.get("items", {}), document, depth + 1)] * max(1, schema.get("minItems", 1))
    if kind == "string" and schema.get("format") == "date-time":
        return "2026-12-01T08:00:00+08:00"
    if kind == "string" and schema.get("format") == "date":
        return "2026-12-01"
    if kind in ("integer", "number"):
        return schema.get("minimum", SAMPLES[kind])
    return SAMPLES.get(kind, "x")


def field_kinds(schema: dict, document: dict) -> tuple[str | None, str | None]:
    """Return the JSON-schema type and format of a property, looking through Optional[...]."""
    schema = _resolve(schema, document)
    return schema.get("type"), schema.get("format")


def concrete_path(path: str, number: int = 999999) -> str:
    """Fill a route's placeholders: integers with `number`, the rest with a value that exists nowhere."""
    return re.sub(r"<int:\w+>", str(number), re.sub(r"<(?!int:)(?:\w+:)?\w+>", "NOPE", path))


def caller_role(spec) -> str:
    """Return a role the endpoint accepts (the OEM where it may call it: it sees the most)."""
    if spec.access in (PUBLIC, SIGNED_IN) or Role.OEM_ADMIN in spec.access:
        return Role.OEM_ADMIN
    return spec.access[0]


def served_specs(app) -> list:
    served = {rule.rule for rule in app.url_map.iter_rules()}
    return [spec for spec in REGISTRY if spec.path in served]


def call(client, spec, headers, *, path: str | None = None, body: Any = None, query: dict | None = None):
    """Send one request and return its status (an exception the app let escape counts as a 500)."""
    try:
        response = client.open(
            path or concrete_path(spec.path),
            method=spec.method,
            data=None if body is None else json.dumps(body),
            content_type="application/json",
            query_string=query,
            headers=headers,
        )
    except Exception as error:  # noqa: BLE001 - the test reports what escaped, whatever it is
        return 500, repr(error)[:200]
    return response.status_code, (response.get_json(silent=True) or {}).get("error")


@pytest.fixture
def callers(session):
    """Bearer headers per role, made once per test."""
    made: dict[str, dict[str, str]] = {}

    def headers_for(role: str) -> dict[str, str]:
        if role not in made:
            made[role] = auth_header(session, make_user(session, role))
        return made[role]

    return headers_for


def fields_of_kind(app, schema_of, hostile: str):
    """Yield (spec, document, field name) for every schema field the hostile class applies to."""
    wanted_type, wanted_format, _value = HOSTILE_BY_TYPE[hostile]
    for spec in served_specs(app):
        schema = schema_of(spec)
        if schema is None:
            continue
        document = schema.model_json_schema()
        for name, prop in document.get("properties", {}).items():
            kind, form = field_kinds(prop, document)
            if kind == wanted_type and (wanted_format is None or form == wanted_format):
                yield spec, document, name


@pytest.mark.parametrize("hostile", sorted(HOSTILE_BY_TYPE))
def test_hostile_body_fields_get_a_4xx_never_a_5xx(app, client, callers, hostile):
    value = HOSTILE_BY_TYPE[hostile][2]
    failures, tried = [], 0
    for spec, document, name in fields_of_kind(app, lambda spec: spec.body, hostile):
        base = {field: sample_value(prop, document) for field, prop in document.get("properties", {}).items()}
        tried += 1
        status, error = call(client, spec, callers(caller_role(spec)), body={**base, name: value})
        if status >= 500:
            failures.append((spec.method, spec.path, name, status, error))

    assert tried > 0
    assert failures == []


@pytest.mark.parametrize("hostile", ["nul", "int31", "int63", "naive_datetime"])
def test_hostile_query_parameters_get_a_4xx_never_a_5xx(app, client, callers, hostile):
    value = HOSTILE_BY_TYPE[hostile][2]
    failures, tried = [], 0
    for spec, _document, name in fields_of_kind(app, lambda spec: spec.query, hostile):
        tried += 1
        status, error = call(client, spec, callers(caller_role(spec)), query={name: str(value)})
        if status >= 500:
            failures.append((spec.method, spec.path, name, status, error))

    assert tried > 0
    assert failures == []


@pytest.mark.parametrize("number", [2**31, 2**63 - 1, 2**63, 10**30])
def test_integer_path_ids_beyond_the_columns_are_not_found(app, client, callers, number):
    failures = []
    for spec in served_specs(app):
        if "<int:" not in spec.path:
            continue
        status, error = call(client, spec, callers(caller_role(spec)), path=concrete_path(spec.path, number), body={})
        if status >= 500:
            failures.append((spec.method, spec.path, status, error))

    assert failures == []


def test_deeply_nested_json_is_a_400_naming_the_body(app, client, callers):
    nested = "[" * 100_000 + "]" * 100_000
    failures = []
    for spec in served_specs(app):
        if spec.body is None:
            continue
        response = client.open(
            concrete_path(spec.path),
            method=spec.method,
            data='{"a": ' + nested + "}",
            content_type="application/json",
            headers=callers(caller_role(spec)),
        )
        if response.status_code != 400 or response.json["error"]["field"] != "body":
            failures.append((spec.method, spec.path, response.status_code))

    assert failures == []


def test_nul_bytes_in_a_body_are_a_400_naming_the_field(client, session):
    headers = auth_header(session, make_user(session))

    response = client.post(
        "/api/v1/organizations", json={"kind": "dealer", "code": "AB1", "name": "北京\x00经销商"}, headers=headers
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "name"


def test_nul_bytes_in_any_page_form_or_query_are_a_400_naming_the_field(app, client):
    failures = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or "<" in rule.rule or rule.endpoint == "static":
            continue
        for method in {"GET", "POST"} & set(rule.methods or ()):
            form = {"description": "刹车\x00异响"} if method == "POST" else None
            query = None if method == "POST" else {"q": "刹车\x00异响"}
            response = client.open(rule.rule, method=method, data=form, query_string=query)
            named = "description" if method == "POST" else "q"
            if response.status_code != 400 or named not in response.text:
                failures.append((method, rule.rule, response.status_code))

    assert failures == []


@pytest.fixture
def app_without_database(tmp_path, monkeypatch):
    """An app whose database cannot be reached (nothing listens on port 1)."""
    from milepost.factory import create_app
    from tests.conftest import test_settings

    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))
    return create_app(test_settings("postgresql+psycopg://postgres@127.0.0.1:1/nowhere"))


def test_a_database_outage_is_a_503_with_retry_after_in_json(app_without_database):
    response = app_without_database.test_client().get(
        "/api/v1/shops/search?lat=30&lon=114", headers={"Accept-Language": "en"}
    )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["code"] == "unavailable"


def test_a_database_outage_on_a_page_is_a_chinese_503_page(app_without_database):
    page = app_without_database.test_client().get("/shops?lat=30&lon=114")

    assert page.status_code == 503
    assert page.headers["Retry-After"] == "5"
    assert "服务暂时不可用" in page.text
