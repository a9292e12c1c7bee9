"""JSON endpoints declared once: route, roles, request schemas; validated on the way in, listed in OpenAPI."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.errors import InvalidInput
from app.security import require_actor, require_role
from app.web.context import bearer_token, current_actor
from app.web.csrf import check_csrf

API_PREFIX = "/api/v1"
PUBLIC = "public"
SIGNED_IN = "signed_in"
# API reference words built from values, by their English text: (template, values) for the page to translate.
FILLED_WORDS: dict[str, tuple[str, dict[str, object]]] = {}


# Integers a request may carry: the database's INTEGER columns (ids, counts) hold 32 bits; a larger number
# would reach PostgreSQL as an out-of-range error (a 500) instead of a 400 naming the field.
SMALLEST_INTEGER, LARGEST_INTEGER = -(2**31), 2**31 - 1
# Nesting a request body may have: the schemas nest a few levels; a deeper body is an attack on the parser.
MAX_BODY_DEPTH = 32


def refuse_hostile_value(value: Any) -> Any:
    """Return `value` if the database can store it as given; raise ValueError naming what is wrong otherwise."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL bytes")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not SMALLEST_INTEGER <= value <= LARGEST_INTEGER:
            raise ValueError(f"must be between {SMALLEST_INTEGER} and {LARGEST_INTEGER}")
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, for example 2026-12-01T08:00:00+08:00")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            refuse_hostile_value(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_hostile_value(key)
            refuse_hostile_value(item)
    return value


class _CheckedModel(BaseModel):
    """Every field of every request schema is checked for values the database would refuse with a 500."""

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_hostile(cls, value: Any) -> Any:
        return refuse_hostile_value(value)


class Schema(_CheckedModel):
    """Base of request schemas: unknown fields are errors, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class QuerySchema(_CheckedModel):
    """Base of query-string schemas; unknown parameters are ignored, as browsers and caches add some."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


@dataclass
class EndpointSpec:
    """What the OpenAPI document says of one endpoint."""

    method: str
    path: str
    summary: str
    tag: str
    access: str | tuple[str, ...]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    responses: dict[int, str] = field(default_factory=dict)
    produces: str = "application/json"


REGISTRY: list[EndpointSpec] = []


# Pydantic puts the member of a union (or a validator) that failed into the error location: ("lat", "float").
_TYPE_TAG = re.compile(
    r"^(?:float|int|str|bool|none|bytes|list|dict|set|tuple|date|datetime|time|decimal|uuid|enum|literal|model|"
    r"url|json|nullable|default|lax-or-strict|json-or-python|tagged-union|union|"
    r"(?:constrained|function|is|chain|typed)-[a-z-]+)(?:\[.*\])?$"
)


@functools.cache
def _schema_field_names(schema: type[BaseModel]) -> frozenset[str]:
    """Return every field name (and alias) in `schema` and the models nested in it."""
    document = schema.model_json_schema()
    names = set(document.get("properties", {}))
    for definition in document.get("$defs", {}).values():
        names.update(definition.get("properties", {}))
    return frozenset(names)


def _field_name(location: Iterable[Any], field_names: frozenset[str] = frozenset()) -> str:
    name = ""
    for part in location:
        # A real field called `date` or `time` is kept; only pydantic's union-member tags are dropped.
        if isinstance(part, str) and part not in field_names and _TYPE_TAG.match(part):
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def validation_error(error: ValidationError, schema: type[BaseModel] | None = None) -> InvalidInput:
    """Turn pydantic's first complaint into one 400 naming the field."""
    first = error.errors()[0]
    name = _field_name(first["loc"], _schema_field_names(schema) if schema is not None else frozenset())
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    return InvalidInput("%(field)s: %(reason)s", field=name, reason=message)


def parse_body(schema: type[BaseModel]) -> BaseModel:
    """Parse and validate the JSON body against `schema`."""
    if not request.get_data(cache=True):
        raise InvalidInput("a JSON body is required", field="body")
    if not request.is_json:
        raise InvalidInput("send the body as JSON (Content-Type: application/json)", field="body")
    try:
        payload = request.get_json(silent=True)
    except RecursionError:
        payload = None
    if payload is None:
        raise InvalidInput("the body is not valid JSON", field="body")
    if json_depth(payload) > MAX_BODY_DEPTH:
        raise InvalidInput("the body is nested more than %(depth)s levels deep", field="body", depth=MAX_BODY_DEPTH)
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    try:
        return schema.model_validate(payload)
    except ValidationError as error:
        raise validation_error(error, schema) from None


def json_depth(value: Any) -> int:
    """Return how deeply lists and objects nest in a parsed JSON value (iteratively: no recursion to exhaust)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_query(schema: type[BaseModel]) -> BaseModel:
    """Validate the query string against `schema` (repeated keys become lists where the schema wants one)."""
    values: dict[str, Any] = {}
    for name, info in schema.model_fields.items():
        key = info.alias or name
        if key not in request.args:
            continue
        listed = request.args.getlist(key)
        wants_list = "list" in str(info.annotation).lower()
        values[key] = listed if wants_list else listed[-1]
    try:
        return schema.model_validate(values)
    except ValidationError as error:
        raise validation_error(error, schema) from None


class ApiBlueprint(Blueprint):
    """A blueprint under /api/v1 whose routes declare who may call them and what they accept."""

    def __init__(self, name: str, import_name: str, tag: str) -> None:
        super().__init__(name, import_name, url_prefix=API_PREFIX)
        self.tag = tag

    def endpoint(
        self,
        method: str,
        path: str,
        *,
        access: str | Iterable[str],
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        status: int = 200,
        responses: dict[int, str] | None = None,
        produces: str = "application/json",
    ) -> Callable:
        """Register a view; `access` is PUBLIC, SIGNED_IN or the roles allowed (object checks stay in the view).

        The view receives `actor` and, when declared, `body` and `query` as validated models.
        It returns a JSON-able value, `(value, status)`, or a Flask response.
        """
        allowed = access if isinstance(access, str) else tuple(access)
        spec = EndpointSpec(
            method, API_PREFIX + path, summary, self.tag, allowed, body, query, status, responses or {}, produces
        )
        REGISTRY.append(spec)

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(**path_values: Any) -> Response:
                actor = current_actor()
                if actor is not None and bearer_token() is None:
                    check_csrf()
                if allowed == SIGNED_IN:
                    require_actor(actor)
                elif allowed != PUBLIC:
                    require_role(actor, *allowed)
                kwargs: dict[str, Any] = dict(path_values, actor=actor)
                if body is not None:
                    kwargs["body"] = parse_body(body)
                if query is not None:
                    kwargs["query"] = parse_query(query)
                result = view(**kwargs)
                if isinstance(result, Response):
                    return result
                value, code = result if isinstance(result, tuple) else (result, status)
                return jsonify(value), code

            self.add_url_rule(path, endpoint=view.__name__, view_func=wrapper, methods=[method])
            wrapper.endpoint_spec = spec  # type: ignore[attr-defined]
            return wrapper

        return decorator


def api_words(template: str, **values: object) -> str:
    """Mark a summary or description the API reference shows (app.web.extraction), with named values filled in.

    The document keeps the English text; the docs page translates `template` and fills in the same values."""
    text = template % values if values else template
    FILLED_WORDS[text] = (template, values)
    return text
