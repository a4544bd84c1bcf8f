"""Every write to an article row: new candidates (deduplicated), and each move between states.

- :func:`store_candidates`: insert the candidates not seen before (by canonical URL; a GUID
  reused for another URL is logged, both kept); live discovery adopts a backfill's unfinished row of the same URL
  (:func:`reopen`), and a backfill takes back rows it set aside whose date is in its range
  (:func:`reclaim`).
- :func:`store_article`: ONE transaction (the caller's) writes the extracted article, its story
  (``monitor.stories``), its matches and their outbox rows (``matches.record_matches``).
- The other transitions of a pending row (see ``ArticleStatus``): a retry scheduled, given up
  (failed), postponed, a duplicate of a stored page, or set aside by a backfill.

Every transition is a compare-and-set on ``status = 'pending'``: a row another worker finished
meanwhile is left alone (``store_article`` and ``set_aside`` raise :class:`NoLongerPending`). The
decisions (when to retry, whether to set aside) are in ``policy``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.dates import DateRange, utcnow
from monitor.db.models import Article, ArticleStatus, Origin, OutboxStatus, Source
from monitor.db.session import transaction
from monitor.match import TopicMatch
from monitor.pipeline.matches import record_matches
from monitor.runtime import Runtime
from monitor.sources.candidate import Candidate
from monitor.stories import assign_story
from monitor.urls import redact_url

log = logging.getLogger(__name__)

CHUNK = 500
SET_ASIDE = (ArticleStatus.OUT_OF_RANGE, ArticleStatus.UNDATED)  # by a backfill, for their date
ADOPTABLE = (ArticleStatus.PENDING, *SET_ASIDE)  # a backfill's rows live discovery takes over

# Built once: constructing SQLAlchemy statements costs more than running them on SQLite.
_articles = Article.__table__
_KNOWN_URLS = select(_articles.c.url, _articles.c.origin, _articles.c.status).where(
    _articles.c.url.in_(bindparam("values", expanding=True))
)
_KNOWN_GUIDS = select(_articles.c.guid).where(
    _articles.c.source_id == bindparam("source_id"),
    _articles.c.guid.in_(bindparam("values", expanding=True)),
)
_UPDATE_PENDING = update(_articles).where(
    _articles.c.id == bindparam("b_id"), _articles.c.status == ArticleStatus.PENDING
)
_SAME_PAGE = select(_articles.c.id).where(
    (_articles.c.url == bindparam("url")) | (_articles.c.page_url == bindparam("url")),
    _articles.c.status == ArticleStatus.DONE,
)


class NoLongerPending(Exception):
    """Another worker processed the article meanwhile."""


# --------------------------------------------------------------------------- candidates


def _existing_rows(session: Session, query, values: list[str], **params) -> list:
    """The rows the (prebuilt, expanding) ``query`` finds for ``values``, in chunks."""
    found: list = []
    conn = session.connection()
    for i in range(0, len(values), CHUNK):
        found.extend(conn.execute(query, {"values": values[i : i + CHUNK], **params}))
    return found


def _feed_date_values(cand: Candidate) -> dict[str, Any]:
    """A row's date columns from its candidate: the feed's (or sitemap's) date, if any."""
    return {"published_at": cand.published, "date_source": "feed" if cand.published else None}


def _candidate_row(source_id: int, cand: Candidate, origin: Origin, now: datetime) -> Article:
    feed_data = {
        "title": cand.title,
        "summary": (cand.summary or "")[:2000] or None,
        "author": cand.author,
        "published": cand.published.isoformat() if cand.published else None,
    }
    return Article(
        source_id=source_id,
        url=cand.url,
        fetch_url=cand.fetch_url,
        guid=cand.guid,
        title=cand.title,
        author=cand.author,
        **_feed_date_values(cand),
        discovered_at=now,
        origin=origin,
        status=ArticleStatus.PENDING,
        attempts=0,
        next_fetch_at=now,
        feed_data=feed_data,
    )


def store_candidates(
    session: Session, source_id: int, candidates: list[Candidate], *, origin: Origin = Origin.LIVE
) -> int:
    """Insert candidates not seen before (by canonical URL: a GUID reused for another URL is
    another article, logged).

    Returns how many were new. An article is stored once, whatever feed or page led to it. Live
    discovery takes back a backfill's row it has not finished (pending, or set aside for its date):
    the article is live news now, processed and alerted as such.
    """
    unique: dict[str, Candidate] = {}
    for cand in candidates:
        unique.setdefault(cand.url, cand)
    if not unique:
        return 0
    known = _existing_rows(session, _KNOWN_URLS, list(unique))
    known_urls = {url for url, _, _ in known}
    if origin == Origin.LIVE:
        for url, was, status in known:
            if was != Origin.LIVE and status in ADOPTABLE:
                where = (Article.url == url, Article.origin != Origin.LIVE, Article.status.in_(ADOPTABLE))
                reopen(session, where, unique[url], origin=Origin.LIVE)
    fresh = [cand for url, cand in unique.items() if url not in known_urls]
    _log_reused_guids(session, source_id, fresh)
    now = utcnow()
    for cand in fresh:
        session.add(_candidate_row(source_id, cand, origin, now))
    if fresh:
        session.flush()
    return len(fresh)


def _log_reused_guids(session: Session, source_id: int, fresh: list[Candidate]) -> None:
    """A GUID names an article only with its URL: a feed that reuses one for another URL (a CMS
    recycling ids, a copied template) gets both articles stored, and the operator a log line."""
    guids = [c.guid for c in fresh if c.guid]
    if not guids:
        return
    known = {row[0] for row in _existing_rows(session, _KNOWN_GUIDS, guids, source_id=source_id)}
    seen: set[str] = set()
    for cand in fresh:
        if cand.guid and (cand.guid in known or cand.guid in seen):
            log.info(
                "GUID %r reused for another URL, stored as a new article: %s", cand.guid, redact_url(cand.url)
            )
        if cand.guid:
            seen.add(cand.guid)


def store_candidates_safely(
    factory: sessionmaker[Session], source_id: int, candidates: list[Candidate], origin: Origin
) -> int:
    """:func:`store_candidates` in transactions of ``CHUNK`` candidates; a chunk another writer
    stored part of meanwhile (a unique URL clash) is stored one candidate at a time."""
    added = 0
    for i in range(0, len(candidates), CHUNK):
        chunk = candidates[i : i + CHUNK]
        try:
            with transaction(factory) as session:
                added += store_candidates(session, source_id, chunk, origin=origin)
        except IntegrityError:
            for cand in chunk:
                try:
                    with transaction(factory) as session:
                        added += store_candidates(session, source_id, [cand], origin=origin)
                except IntegrityError:
                    continue
    return added


def reopen(session: Session, where: tuple, cand: Candidate, **values) -> None:
    """Put the rows matching ``where`` back to pending, with fresh attempts and the candidate's
    feed date (a set-aside or unfinished row that is wanted again)."""
    session.execute(
        update(Article)
        .where(*where)
        .values(
            status=ArticleStatus.PENDING,
            **_feed_date_values(cand),
            next_fetch_at=utcnow(),
            attempts=0,
            last_error=None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )


def reclaim(factory: sessionmaker[Session], candidates: list[Candidate], window: DateRange) -> None:
    """Backfill: take back (pending again) the rows an earlier backfill set aside among these
    candidates whose date, the candidate's or else the stored one, is in ``window``."""
    for i in range(0, len(candidates), CHUNK):
        by_url = {c.url: c for c in candidates[i : i + CHUNK]}
        with transaction(factory) as session:
            rows = session.execute(
                select(Article.id, Article.url, Article.published_at).where(
                    Article.url.in_(list(by_url)),
                    Article.origin == Origin.BACKFILL,
                    Article.status.in_(SET_ASIDE),
                )
            ).all()
            for row_id, url, stored_date in rows:
                cand = by_url[url]
                moment = cand.published or stored_date
                if moment is not None and moment in window:
                    reopen(session, (Article.id == row_id, Article.status.in_(SET_ASIDE)), cand)


# --------------------------------------------------------------------------- a processed article


@dataclass(frozen=True)
class ArticleRecord:
    """What is stored of a processed article: the row's new values (built by ``article.article_record``)."""

    title: str | None
    text: str
    language: str | None
    author: str | None
    published: datetime
    date_source: str  # feed | page | first-seen
    page_url: str | None = None  # the page's own canonical URL
    note: str | None = None  # kept in last_error (e.g. stored from the feed after the page failed)
    fingerprint: Any = None  # precomputed story fingerprint (from the extraction worker)


def store_article(
    session: Session,
    rt: Runtime,
    article_id: int,
    source: str,
    record: ArticleRecord,
    hits: Sequence[TopicMatch],
    *,
    notify: bool = True,
    attempts: int | None = None,
) -> int:
    """Save a processed article with its story, matches and outbox rows (pending, or skipped
    without ``notify``), in the caller's transaction; ``attempts`` updates the attempt count.

    The article must still be pending (else ``NoLongerPending``). Returns how many topics matched.
    """
    # A reprint of a recent article from another outlet joins its story: one alert per story.
    story_id = assign_story(
        session,
        article_id=article_id,
        source_id=rt.source_ids.get(source) or session.scalar(select(Source.id).where(Source.name == source)),
        title=record.title,
        text=record.text,
        published_at=record.published,
        **({"precomputed": record.fingerprint} if record.fingerprint is not None else {}),
    ).story_id
    values = {
        "b_id": article_id,
        "title": record.title,
        "text": record.text,
        "language": record.language,
        "author": record.author,
        "published_at": record.published,
        "date_source": record.date_source,
        "extracted_at": utcnow(),
        "status": ArticleStatus.DONE,
        "next_fetch_at": None,
        "last_error": record.note,
        "story_id": story_id,
        "page_url": record.page_url,
    }
    if attempts is not None:
        values["attempts"] = attempts
    if session.connection().execute(_UPDATE_PENDING, values).rowcount != 1:
        raise NoLongerPending
    outbox = OutboxStatus.PENDING if notify else OutboxStatus.SKIPPED
    return record_matches(
        session, article_id, story_id, hits, rt.topic_ids, channels=rt.topic_channels, outbox=outbox
    )


def set_aside(
    session: Session,
    article_id: int,
    status: ArticleStatus,
    note: str,
    *,
    title: str | None,
    published: datetime | None,
    date_source: str | None,
) -> None:
    """Backfill: mark the row ``out_of_range`` (keeping its date, so a wider backfill can take it
    again) or ``undated`` instead of storing it (never matched, never alerted). Raises
    NoLongerPending when the row is no longer pending, or live polling took it back meanwhile
    (live news is stored, whatever its date)."""
    updated = session.execute(
        update(Article)
        .where(
            Article.id == article_id, Article.status == ArticleStatus.PENDING, Article.origin != Origin.LIVE
        )
        .values(
            status=status,
            title=title,
            published_at=published,
            date_source=date_source,
            extracted_at=utcnow(),
            next_fetch_at=None,
            last_error=note,
        )
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        raise NoLongerPending


def mark_duplicate(session: Session, article_id: int, page_url: str) -> bool:
    """Mark a pending article as a copy of a stored article whose URL, or whose page's canonical
    URL, is ``page_url`` (one article reached by two URLs, e.g. ``?p=123`` and its slug)."""
    if session.connection().execute(_SAME_PAGE, {"url": page_url}).first() is None:
        return False
    _update_pending(
        session,
        article_id,
        status=ArticleStatus.DUPLICATE,
        last_error=f"same article as {page_url}",
        next_fetch_at=None,
    )
    return True


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class AttemptState:
    """What deciding on a failed page attempt needs from the row."""

    status: str
    attempts: int
    origin: str
    published_at: datetime | None
    summary: str  # the feed's summary ("" when none)


def attempt_state(session: Session, article_id: int) -> AttemptState | None:
    """The row's state for a failed attempt, or None when the row is gone."""
    row = session.execute(
        select(
            Article.status, Article.attempts, Article.origin, Article.published_at, Article.feed_data
        ).where(Article.id == article_id)
    ).first()
    if row is None:
        return None
    summary = ((row.feed_data or {}).get("summary") or "").strip()
    return AttemptState(row.status, row.attempts or 0, row.origin, row.published_at, summary)


def schedule_retry(session: Session, article_id: int, *, attempts: int, error: str, at: datetime) -> None:
    """A failed attempt with another to come at ``at``: the row stays pending."""
    _update_pending(session, article_id, attempts=attempts, last_error=error, next_fetch_at=at)


def mark_failed(session: Session, article_id: int, *, attempts: int, error: str) -> None:
    """Given up: the row is failed, with its last error."""
    _update_pending(
        session,
        article_id,
        status=ArticleStatus.FAILED,
        attempts=attempts,
        last_error=error,
        next_fetch_at=None,
    )


def postpone(session: Session, article_id: int, *, at: datetime, reason: str) -> None:
    """Try again at ``at`` without spending an attempt (the obstacle is not the page's fault)."""
    _update_pending(session, article_id, next_fetch_at=at, last_error=reason)


def _update_pending(session: Session, article_id: int, **values) -> None:
    session.execute(
        update(Article)
        .where(Article.id == article_id, Article.status == ArticleStatus.PENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
