"""The one way lists are paginated: `page` and `per_page` in, `items`, `page`, `per_page`, `total` out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.web.endpoints import QuerySchema

MAX_PER_PAGE = 500


class PageQuery(QuerySchema):
    """Page parameters shared by every list endpoint."""

    page: int = Field(1, ge=1, description="1-based page number")
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE, description="items per page")


def paginate(session: Session, statement: Select, query: PageQuery, render: Callable[[Any], dict]) -> dict:
    """Run `statement` for one page and render each row with `render`."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.scalars(statement.limit(query.per_page).offset((query.page - 1) * query.per_page)).all()
    return {"items": [render(row) for row in rows], "page": query.page, "per_page": query.per_page, "total": total}
