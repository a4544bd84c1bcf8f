"""Read-side queries used by the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import Article, Match, Source, Topic


@dataclass
class MatchRow:
    """A matched article as ``monitor matches`` lists it."""

    topic: str
    title: str | None
    source: str
    published: datetime | None
    url: str
    terms: list[str]
    fields: list[str]
    snippet: str | None


def list_matches(
    session: Session,
    *,
    topics: list[str] | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[MatchRow]:
    """Matched articles, newest first, optionally for some topics and since a date."""
    query = (
        select(Topic.name, Article.title, Source.name, Article.published_at, Article.url, Match)
        .join(Match.topic)
        .join(Match.article)
        .join(Article.source)
        .order_by(Article.published_at.desc(), Match.id.desc())
    )
    if topics:
        query = query.where(Topic.name.in_(topics))
    if since is not None:
        query = query.where(Article.published_at >= since)
    if limit:
        query = query.limit(limit)
    return [
        MatchRow(topic, title, source, published, url, list(m.terms), list(m.fields), m.snippet)
        for topic, title, source, published, url, m in session.execute(query)
    ]
