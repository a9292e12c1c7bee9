"""The OpenAPI document groups operations by tag and gives every success response a schema; the docs page searches."""

from __future__ import annotations

import re

from app.security import Role
from tests.factories import make_user, sign_in_client


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_tag_listed_at_the_top(client):
    document = client.get("/api/v1/openapi.json").json
    listed = {tag["name"] for tag in document["tags"]}

    untagged = [name for name, operation in operations(document) if len(operation.get("tags", [])) != 1]
    unlisted = [name for name, operation in operations(document) if not set(operation["tags"]) <= listed]

    assert not untagged and not unlisted
    assert all(tag["description"] for tag in document["tags"])


def test_every_success_response_has_a_schema(client, validate_openapi):
    document = client.get("/api/v1/openapi.json").json

    missing = [
        f"{name} {code} {media}"
        for name, operation in operations(document)
        for code, response in operation["responses"].items()
        if code.startswith("2")
        for media, body in response.get("content", {}).items()
        if not body.get("schema")
    ]
    without_body = [
        name
        for name, operation in operations(document)
        for code, response in operation["responses"].items()
        if code.startswith("2") and code != "204" and not response.get("content")
    ]

    assert not missing and not without_body
    validate_openapi(document)


def test_list_endpoints_return_what_their_page_schema_says(client, session):
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    document = client.get("/api/v1/openapi.json").json
    paged = [
        path
        for path, methods in document["paths"].items()
        if "{" not in path
        and "get" in methods
        and any(
            body["schema"].get("$ref", "").endswith("/Page")
            for body in methods["get"]["responses"]["200"]["content"].values()
        )
    ]

    shapes = {path: sorted(client.get(path).json) for path in paged}

    assert len(paged) > 10
    assert all(shape[:4] == ["items", "page", "per_page", "total"] for shape in shapes.values()), shapes


def test_api_docs_page_groups_operations_by_tag_with_a_search_box(client):
    page = client.get("/api/docs?lang=en").get_data(as_text=True)

    assert re.findall(r'data-tag-section="(\w+)"', page)[:3] == ["Auth", "CRM", "Traceability"]
    assert 'id="api-search"' in page and "api_docs.js" in page
    assert "<script>" not in page


def test_api_docs_search_filters_operations_in_the_browser(page):
    page.goto("/api/docs?lang=en")
    total = page.locator("details.endpoint").count()

    page.fill("#api-search", "plaque svg")

    shown = page.locator("details.endpoint:visible")
    assert 0 < shown.count() < total
    assert all("plaque" in text for text in shown.locator("summary").all_inner_texts())
    assert page.locator("[data-tag-section=Auth]").is_hidden()
    page.fill("#api-search", "nothing-is-called-this")
    assert page.locator("#api-search-empty").is_visible()


def test_api_docs_page_in_chinese_has_no_english_summary_or_description(client):
    from tests.test_zh_pages import english_words

    page = client.get("/api/docs?lang=zh").get_data(as_text=True)
    document = client.get("/api/v1/openapi.json").json
    summaries = [op["summary"] for operations in document["paths"].values() for op in operations.values()]

    assert english_words(page) == set()
    assert not [summary for summary in summaries if f">{summary}<" in page]
    assert "根据主机厂认证的回答起草知识文章" in page
    assert document["paths"]["/api/v1/plaque-requests"]["get"]["summary"].startswith("The pending plaque")
