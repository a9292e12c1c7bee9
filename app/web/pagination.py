"""The one way lists are paginated: `page` and `per_page` in, `items`, `page`, `per_page`, `total` out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.web.context import settings
from app.web.endpoints import QuerySchema


class PageQuery(QuerySchema):
    """Page parameters shared by every list endpoint."""

    # Bounded so that the OFFSET it becomes always fits the database's 64-bit integers.
    page: int = Field(1, ge=1, le=1_000_000, description="1-based page number")
    per_page: int | None = Field(
        None, ge=1, description="items per page (default MILEPOST_PAGE_SIZE, at most MILEPOST_MAX_PAGE_SIZE)"
    )


def page_size(query: PageQuery) -> int:
    """Return the page size asked for, or the configured default; more than the configured maximum is a 400."""
    if query.per_page is None:
        return int(settings()["PAGE_SIZE"])
    maximum = int(settings()["MAX_PAGE_SIZE"])
    if query.per_page > maximum:
        raise InvalidInput("per_page: at most %(maximum)s items per page", field="per_page", maximum=maximum)
    return query.per_page


def paginate(session: Session, statement: Select, query: PageQuery, render: Callable[[Any], dict]) -> dict:
    """Run `statement` for one page and render each row with `render`."""
    per_page = page_size(query)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(per_page).offset((query.page - 1) * per_page)).all()
    return {"items": [render(row) for row in rows], "page": query.page, "per_page": per_page, "total": total}
