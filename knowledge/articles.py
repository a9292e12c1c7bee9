"""Knowledge articles: Markdown in zh and en written by the OEM, rendered to sanitized HTML, linked to codes,
part categories and vehicle models, and searched like entries (knowledge.search)."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.errors import Conflict, InvalidInput, NotFound
from app.security import Role, User, require_role
from knowledge.codes import FaultCode, parse_code
from knowledge.models import Article, ArticleLink, ArticleStatus, LinkKind
from knowledge.search import fold, query_terms, rank, text_matches

MAX_TITLE = 200
MAX_BODY = 50_000
MAX_LINKS = 50
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# "commonmark" without raw HTML: what Markdown makes is then cleaned again by nh3 (Ammonia), so a link to
# javascript: or an <img onerror> cannot reach the page even if the parser let one through.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(text: str) -> str:
    """Return the Markdown as sanitized HTML (safe tags only, links get rel="noopener noreferrer nofollow")."""
    return nh3.clean(
        _MARKDOWN.render(text or ""),
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )


def code_link(code: FaultCode) -> str:
    """Return how an article links a code: `100/1`, `100` (the SPN with any FMI), `P20EE`, `blink:2-2-1`."""
    return code.short


def _links(codes: list[str], part_categories: list[str], models: list[str]) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for text in codes:
        links.append((LinkKind.CODE, code_link(parse_code(text))))
    for kind, values, field in (
        (LinkKind.PART_CATEGORY, part_categories, "part_categories"),
        (LinkKind.MODEL, models, "models"),
    ):
        for value in values:
            value = (value or "").strip()
            if not value or len(value) > 100:
                raise InvalidInput(f"{field} are 1-100 characters each", field=field)
            links.append((kind, value))
    if len(links) > MAX_LINKS:
        raise InvalidInput(f"an article has at most {MAX_LINKS} links", field="codes")
    return list(dict.fromkeys(links))


def _texts(title: dict, body: dict) -> tuple[dict, dict]:
    clean_title, clean_body = {}, {}
    for language in ("zh", "en"):
        heading = (title.get(language) or "").strip()
        text = body.get(language) or ""
        if "\x00" in heading or "\x00" in text:
            raise InvalidInput("the text contains a NUL character", field=f"body.{language}")
        if len(heading) > MAX_TITLE:
            raise InvalidInput(f"a title has at most {MAX_TITLE} characters", field=f"title.{language}")
        if len(text) > MAX_BODY:
            raise InvalidInput(f"an article has at most {MAX_BODY} characters", field=f"body.{language}")
        clean_title[language], clean_body[language] = heading, text
    if not clean_title["zh"]:
        raise InvalidInput("a Chinese title is required", field="title.zh")
    return clean_title, clean_body


def save_article(
    session: Session,
    actor: User,
    slug: str,
    title: dict,
    body: dict,
    *,
    codes: list[str] = (),
    part_categories: list[str] = (),
    models: list[str] = (),
    publish: bool = False,
    article: Article | None = None,
) -> Article:
    """Create an article (or replace `article`'s texts and links), as OEM staff."""
    require_role(actor, Role.OEM_ADMIN)
    slug = (slug or "").strip().lower()
    if not _SLUG.match(slug) or len(slug) > 100:
        raise InvalidInput("a slug is lower-case letters and digits joined by hyphens", field="slug")
    taken = session.scalar(select(Article.id).where(Article.slug == slug))
    if taken is not None and (article is None or taken != article.id):
        raise Conflict(f"an article named {slug} exists", field="slug")
    title, body = _texts(title, body)
    links = _links(list(codes), list(part_categories), list(models))
    if article is None:
        article = Article(author_id=actor.id)
        session.add(article)
    article.slug = slug
    article.title = title
    article.body = body
    article.status = ArticleStatus.PUBLISHED if publish else ArticleStatus.DRAFT
    article.links = [ArticleLink(kind=kind, value=value) for kind, value in links]
    link_words = [value for _kind, value in links]
    article.search_text = fold(title["zh"], title["en"], body["zh"], body["en"], *link_words)
    session.flush()
    record_activity(session, actor, "knowledge.article_saved", "article", article.slug, status=article.status)
    return article


def get_article(session: Session, slug: str, actor: User | None) -> Article:
    """Return the article named `slug`; drafts only to OEM staff (404 otherwise)."""
    article = session.scalar(select(Article).where(Article.slug == (slug or "").strip().lower()))
    if article is None or (
        article.status != ArticleStatus.PUBLISHED and (actor is None or actor.role != Role.OEM_ADMIN)
    ):
        raise NotFound("no such article", field="slug")
    return article


def articles_for_code(session: Session, code: FaultCode, limit: int = 5) -> list[Article]:
    """Return published articles linked to the code (with its FMI) or to its SPN with any FMI."""
    values = {code_link(code), code_link(FaultCode(code.scheme, code.code))}
    return list(
        session.scalars(
            select(Article)
            .where(
                Article.id.in_(
                    select(ArticleLink.article_id).where(
                        ArticleLink.kind == LinkKind.CODE, ArticleLink.value.in_(values)
                    )
                )
            )
            .where(Article.status == ArticleStatus.PUBLISHED)
            .order_by(Article.updated_at.desc(), Article.id)
            .limit(limit)
        )
    )


def search_articles(session: Session, query: str, limit: int = 20) -> list[Article]:
    """Return the published articles containing every term of `query` (titles, texts, links), best first."""
    terms = query_terms(query)
    found = list(
        session.scalars(
            select(Article)
            .where(Article.status == ArticleStatus.PUBLISHED, text_matches(Article.search_text, terms))
            .order_by(Article.updated_at.desc(), Article.id)
            .limit(limit * 5)
        )
    )
    found.sort(key=lambda article: rank(" ".join(article.title.values()), terms))
    return found[:limit]


def article_to_dict(article: Article, language: str = "zh", with_body: bool = False) -> dict:
    """Render an article; with the body, as sanitized HTML in `language` (zh when en is empty)."""
    body = {
        "slug": article.slug,
        "title": article.title.get(language) or article.title["zh"],
        "status": article.status,
        "links": [{"kind": link.kind, "value": link.value} for link in article.links],
        "updated_at": article.updated_at.isoformat(),
    }
    if with_body:
        body["html"] = render_markdown(article.body.get(language) or article.body.get("zh") or "")
    return body
