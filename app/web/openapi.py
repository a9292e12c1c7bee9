"""The OpenAPI 3.1 document, generated from the same schemas that validate requests."""

from __future__ import annotations

import re

from pydantic import BaseModel

from app.web.endpoints import PUBLIC, SIGNED_IN, EndpointSpec
from app.web.pagination import PageQuery

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the request field at fault"},
            },
        }
    },
}
STANDARD_ERRORS = {
    400: "Bad input; `error.field` names the field",
    401: "Not signed in",
    403: "Not allowed for this actor",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body too large",
    429: "Too many attempts",
}

# What each domain's operations are about, in the order the docs page lists them.
TAGS = {
    "Auth": "Sign-in and API tokens",
    "CRM": "Organizations, customers, vehicles and their owners, touchpoints, the notification inbox",
    "Traceability": "Part types, batches, part codes and labels, custody events, scans, alerts and recalls",
    "Network": "Highways, service shops, search, bookings, roadside help and coverage",
    "Reviews": "Reviews, scores, certification and plaques",
    "Knowledge": "Fault codes, knowledge entries, articles and fixes",
    "Service": "Service requests, queues, SLA clocks and surveys",
    "Community": "Drivers' questions and answers",
    "Leads": "Leads, pools and the funnel",
    "Maintenance": "Service plans, odometer readings, what is due and reminders",
    "Jobs": "The worker's jobs and their runs",
}
# A success response of a list endpoint: one page of items (app.web.pagination.paginate).
PAGE_SCHEMA = {
    "type": "object",
    "required": ["items", "page", "per_page", "total"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0},
    },
}
# Success responses that are not JSON, by media type.
MEDIA_SCHEMAS = {
    "text/html": {"type": "string"},
    "text/csv": {"type": "string"},
    "image/svg+xml": {"type": "string"},
    "application/zip": {"type": "string", "contentMediaType": "application/zip", "contentEncoding": "binary"},
}


def _success_schema(spec: EndpointSpec) -> dict:
    """Return the schema of a success response: a page of items, a JSON object, or the media type's text."""
    if spec.produces in MEDIA_SCHEMAS:
        return MEDIA_SCHEMAS[spec.produces]
    if spec.query is not None and issubclass(spec.query, PageQuery):
        return {"$ref": REF_TEMPLATE.format(model="Page")}
    return {"type": "object"}


def _schema(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _query_parameters(model: type[BaseModel], components: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": prop.get("description", ""),
            "schema": {key: value for key, value in prop.items() if key not in ("title", "description")},
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _path_parameters(path: str) -> tuple[str, list[dict]]:
    parameters = []
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", path):
        kind = "integer" if converter == "int" else "string"
        parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path), parameters


def _operation(spec: EndpointSpec, components: dict) -> dict:
    if spec.access == PUBLIC:
        access_text, security = "Public.", []
    elif spec.access == SIGNED_IN:
        access_text, security = "Any signed-in user.", [{"bearer": []}, {"cookie": []}]
    else:
        access_text, security = f"Roles: {', '.join(spec.access)}.", [{"bearer": []}, {"cookie": []}]
    openapi_path, parameters = _path_parameters(spec.path)
    if spec.query is not None:
        parameters += _query_parameters(spec.query, components)
    if spec.status == 204:
        success: dict = {"description": "Done; no content"}
    else:
        success = {"description": "Success", "content": {spec.produces: {"schema": _success_schema(spec)}}}
    responses: dict = {str(spec.status): success}
    for code, text in {**STANDARD_ERRORS, **spec.responses}.items():
        if code == 401 and spec.access == PUBLIC:
            continue
        responses[str(code)] = {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
        }
    operation = {
        "tags": [spec.tag],
        "summary": spec.summary,
        "description": access_text,
        "operationId": f"{spec.method.lower()}_{openapi_path}".replace("/", "_").replace("{", "").replace("}", ""),
        "parameters": parameters,
        "responses": responses,
        "security": security,
        # Who may call it, for the docs page to say in the reader's language.
        "x-access": spec.access if isinstance(spec.access, str) else list(spec.access),
    }
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(spec.body, components)}},
        }
    return openapi_path, operation


def build_document(specs: list[EndpointSpec], title: str, version: str) -> dict:
    """Return the OpenAPI document for the registered endpoints."""
    components: dict = {"Error": ERROR_SCHEMA, "Page": PAGE_SCHEMA}
    paths: dict = {}
    for spec in sorted(specs, key=lambda item: (item.path, item.method)):
        openapi_path, operation = _operation(spec, components)
        paths.setdefault(openapi_path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "tags": [
            {"name": name, "description": TAGS.get(name, "")}
            for name in sorted({spec.tag for spec in specs}, key=lambda tag: (list(TAGS) + [tag]).index(tag))
        ],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/tokens"},
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "browser session; unsafe methods also need X-CSRF-Token",
                },
            },
        },
    }
