"""The queue of pending articles: which are due, read once before their page is fetched.

Live polling takes a source's due live rows; a backfill takes its own rows dated in its range (or
undated). Neither takes the other's: processed by live polling, a backfill's rows would be alerted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.dates import DateRange, utcnow
from monitor.db.models import Article, ArticleStatus, Origin, Source


@dataclass(frozen=True)
class PendingArticle:
    """What processing an article needs from its row (read once, before the page is fetched)."""

    id: int
    source: str
    url: str
    fetch_url: str
    title: str | None
    author: str | None
    published_at: datetime | None
    discovered_at: datetime


_PENDING = (
    select(
        Article.id,
        Source.name,
        Article.url,
        Article.fetch_url,
        Article.title,
        Article.author,
        Article.published_at,
        Article.discovered_at,
    )
    .join(Article.source)
    .where(Article.status == ArticleStatus.PENDING)
)


def load_pending(session: Session, article_id: int) -> PendingArticle | None:
    """The pending article with this id, or None when it is not (or no longer) pending."""
    row = session.execute(_PENDING.where(Article.id == article_id)).first()
    return PendingArticle(*row) if row else None


def due_articles(session: Session, source_id: int, now: datetime | None = None) -> list[PendingArticle]:
    """Pending live articles of a source whose (re)try time has come, oldest first.

    A backfill's pending rows are left to the backfill (re-run it to finish them): processed here,
    they would be alerted.
    """
    now = now or utcnow()
    query = (
        _PENDING.where(Article.source_id == source_id, Article.origin == Origin.LIVE)
        .where((Article.next_fetch_at.is_(None)) | (Article.next_fetch_at <= now))
        .order_by(Article.discovered_at, Article.id)
    )
    return [PendingArticle(*row) for row in session.execute(query)]


def backfill_pending(session: Session, source_id: int, window: DateRange) -> list[PendingArticle]:
    """A source's backfill rows still to process whose date (if known) is in ``window``, oldest
    first (a failed page's retry time is not waited for: the backfill is running now)."""
    query = (
        _PENDING.where(Article.source_id == source_id, Article.origin == Origin.BACKFILL)
        .where(Article.published_at.is_(None) | Article.published_at.between(window.start, window.end))
        .order_by(Article.published_at, Article.id)
    )
    return [PendingArticle(*row) for row in session.execute(query)]
