"""Poll one source end to end: fetch, discover, dedupe, fetch pages, extract, match, store.

The units of work are plain functions over the runtime and database sessions, so the daemon,
``run --once``, backfill and (later) distributed workers run the same code.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.alerts.outbox import enqueue
from monitor.config import SourceConfig
from monitor.db.models import (
    DONE,
    DUPLICATE,
    FAILED,
    OUT_PENDING,
    OUT_SKIPPED,
    PENDING,
    Article,
    Match,
    Source,
    Story,
    utcnow,
)
from monitor.db.session import transaction
from monitor.extract import Extracted, ExtractError
from monitor.runtime import Runtime
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.sources.listing import parse_listing
from monitor.urls import canonical_url

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass
class PollReport:
    """What one poll of one source did."""

    source: str
    ok: bool = True
    error: str | None = None
    not_modified: bool = False
    discovered: int = 0
    new: int = 0
    processed: int = 0
    matched: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- discovery


def discover(
    source: SourceConfig, body: bytes, headers: dict[str, str], url: str, rt: Runtime
) -> list[Candidate]:
    """Candidates from a fetched feed or listing page (raises DiscoverError)."""
    if source.kind == "feed":
        return parse_feed(body, headers, url, rt.config.source_timezone(source))
    return parse_listing(body, headers, url, source.links)


def _existing(session: Session, column, values: list[str], source_id: int | None = None) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), _CHUNK):
        chunk = values[i : i + _CHUNK]
        query = select(column).where(column.in_(chunk))
        if source_id is not None:
            query = query.where(Article.source_id == source_id)
        found.update(session.scalars(query))
    return found


def _candidate_row(source_id: int, cand: Candidate, origin: str, now: datetime) -> Article:
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
        published_at=cand.published,
        date_source="feed" if cand.published else None,
        discovered_at=now,
        origin=origin,
        status=PENDING,
        attempts=0,
        next_fetch_at=now,
        feed_data=feed_data,
    )


def store_candidates(
    session: Session, source_id: int, candidates: list[Candidate], *, origin: str = "live"
) -> int:
    """Insert candidates not seen before (by canonical URL, or GUID within the source).

    Returns how many were new. An article is stored once, whatever feed or page led to it.
    """
    unique: dict[str, Candidate] = {}
    for cand in candidates:
        unique.setdefault(cand.url, cand)
    if not unique:
        return 0
    known_urls = _existing(session, Article.url, list(unique))
    guids = [c.guid for c in unique.values() if c.guid]
    known_guids = _existing(session, Article.guid, guids, source_id) if guids else set()
    now = utcnow()
    seen_guids: set[str] = set()
    added = 0
    for url, cand in unique.items():
        if url in known_urls or (cand.guid and (cand.guid in known_guids or cand.guid in seen_guids)):
            continue
        if cand.guid:
            seen_guids.add(cand.guid)
        session.add(_candidate_row(source_id, cand, origin, now))
        added += 1
    session.flush()
    return added


def _store_candidates_safely(rt: Runtime, source_id: int, candidates: list[Candidate], origin: str) -> int:
    try:
        with transaction(rt.factory) as session:
            return store_candidates(session, source_id, candidates, origin=origin)
    except IntegrityError:
        # Another writer stored some of them meanwhile: fall back to one at a time.
        added = 0
        for cand in candidates:
            try:
                with transaction(rt.factory) as session:
                    added += store_candidates(session, source_id, [cand], origin=origin)
            except IntegrityError:
                continue
        return added


# --------------------------------------------------------------------------- source state


def _backoff(base: float, attempts: int, cap: float) -> float:
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.9, 1.1)


def _record_source(
    rt: Runtime,
    source: SourceConfig,
    *,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    content_hash: str | None = None,
    validators: bool = False,
    retry_after: float | None = None,
) -> None:
    now = utcnow()
    with transaction(rt.factory) as session:
        row = session.get(Source, rt.source_ids[source.name])
        row.last_polled_at = now
        if error is None:
            row.last_success_at = now
            row.last_error = None
            row.consecutive_failures = 0
            row.next_poll_at = now + timedelta(seconds=source.interval)
            if validators:
                row.etag, row.last_modified, row.content_hash = etag, last_modified, content_hash
        else:
            row.last_error = error
            row.last_error_at = now
            row.consecutive_failures = (row.consecutive_failures or 0) + 1
            delay = max(
                source.interval,
                retry_after or 0,
                _backoff(source.interval, row.consecutive_failures, rt.settings.source_retry_max),
            )
            row.next_poll_at = now + timedelta(seconds=delay)


# --------------------------------------------------------------------------- articles


def _localise(value: datetime | None, tz) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _charset(headers: dict[str, str]) -> str | None:
    """The charset declared in a Content-Type header, if any."""
    match = re.search(r"charset=[\"']?([\w.:-]+)", headers.get("content-type", ""), re.I)
    return match.group(1) if match else None


def _page_failed(rt: Runtime, article_id: int, error: str, retry_after: float | None = None) -> str:
    """Record a failed page attempt; returns the new status (pending for a retry, or failed)."""
    now = utcnow()
    with transaction(rt.factory) as session:
        row = session.get(Article, article_id)
        row.attempts = (row.attempts or 0) + 1
        row.last_error = error
        if row.attempts >= rt.settings.max_page_attempts:
            row.status = FAILED
            row.next_fetch_at = None
        else:
            delay = max(
                retry_after or 0,
                _backoff(rt.settings.page_retry_base, row.attempts, rt.settings.page_retry_max),
            )
            row.next_fetch_at = now + timedelta(seconds=delay)
        return row.status


def store_article(
    session: Session, rt: Runtime, article: Article, extracted: Extracted, *, notify: bool = True
) -> int:
    """Save an extracted article with its story, matches and outbox rows (caller's transaction).

    Returns how many topics matched.
    """
    source = rt.config.source(article.source.name)
    tz = rt.config.source_timezone(source)
    now = utcnow()
    article.title = extracted.title or article.title
    article.text = extracted.text
    article.language = extracted.language or source.language
    article.author = article.author or extracted.author
    if article.published_at is None:
        page_date = _localise(extracted.published, tz)
        if page_date is not None:
            article.published_at, article.date_source = page_date, "page"
        else:
            article.published_at, article.date_source = article.discovered_at, "first-seen"
    article.extracted_at = now
    article.status = DONE
    article.next_fetch_at = None
    article.last_error = None

    story = Story(title=article.title, first_published_at=article.published_at)
    session.add(story)
    session.flush()
    article.story_id = story.id

    matched = 0
    for hit in rt.matcher.match(article.title, article.text):
        topic_id = rt.topic_ids.get(hit.topic)
        if topic_id is None:
            continue
        session.add(
            Match(
                article_id=article.id,
                topic_id=topic_id,
                terms=hit.terms,
                fields=hit.fields,
                snippet=hit.snippet,
            )
        )
        topic = next(t for t in rt.config.topics if t.name == hit.topic)
        channels = [c.name for c in rt.config.topic_channels(topic)]
        enqueue(
            session,
            topic_id=topic_id,
            story_id=story.id,
            article_id=article.id,
            channels=channels,
            status=OUT_PENDING if notify else OUT_SKIPPED,
        )
        matched += 1
    session.flush()
    return matched


async def process_article(rt: Runtime, article_id: int, *, notify: bool = True) -> tuple[str, int]:
    """Fetch, extract, match and store one pending article; returns (new status, topics matched).

    A page that fails (timeout, 5xx, 429, no text) stays pending and is retried on later polls
    with backoff, up to ``max_page_attempts``; then it is marked failed with its last error.
    """
    with rt.factory() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != PENDING:
            return (article.status if article else "missing"), 0
        fetch_url, url = article.fetch_url, article.url
        source_name = article.source.name

    result = await rt.http.get(fetch_url)
    if not result.ok or not result.body:
        error = result.error or "empty response"
        status = _page_failed(rt, article_id, error, result.retry_after)
        log.warning("source %r: article %s: %s (%s)", source_name, fetch_url, error, status)
        return status, 0
    try:
        extracted = await rt.extractor.extract(
            result.body, result.final_url or fetch_url, _charset(result.headers)
        )
    except ExtractError as exc:
        status = _page_failed(rt, article_id, str(exc))
        log.warning("source %r: article %s: %s (%s)", source_name, fetch_url, exc, status)
        return status, 0

    page_url = canonical_url(extracted.canonical_url) if extracted.canonical_url else None
    try:
        with transaction(rt.factory) as session:
            article = session.get(Article, article_id)
            if article.status != PENDING:
                return article.status, 0
            if page_url and page_url != url:
                other = session.scalar(select(Article.id).where(Article.url == page_url))
                if other is not None:
                    article.status = DUPLICATE
                    article.last_error = f"same article as {page_url}"
                    article.next_fetch_at = None
                    return DUPLICATE, 0
            matched = store_article(session, rt, article, extracted, notify=notify)
    except Exception as exc:  # never lose the article: leave it pending for a retry
        log.exception("source %r: article %s: could not store", source_name, fetch_url)
        _page_failed(rt, article_id, f"storage error: {exc.__class__.__name__}: {exc}"[:500])
        return PENDING, 0
    if matched:
        log.info("source %r: %s matched %d topic(s)", source_name, url, matched)
    return DONE, matched


def due_articles(session: Session, source_id: int, now: datetime | None = None) -> list[int]:
    """Pending articles of a source whose (re)try time has come, oldest first."""
    now = now or utcnow()
    query = (
        select(Article.id)
        .where(Article.source_id == source_id, Article.status == PENDING)
        .where((Article.next_fetch_at.is_(None)) | (Article.next_fetch_at <= now))
        .order_by(Article.discovered_at, Article.id)
    )
    return list(session.scalars(query))


async def process_articles(rt: Runtime, ids: list[int], report: PollReport, *, notify: bool = True) -> None:
    """Process many articles concurrently (bounded), counting outcomes into ``report``."""
    limit = asyncio.Semaphore(rt.settings.article_concurrency)

    async def one(article_id: int) -> tuple[str, int]:
        async with limit:
            return await process_article(rt, article_id, notify=notify)

    for status, matched in await asyncio.gather(*(one(i) for i in ids)):
        report.matched += matched
        if status == DONE:
            report.processed += 1
        elif status == PENDING:
            report.retrying += 1
        elif status == FAILED:
            report.failed += 1


# --------------------------------------------------------------------------- one poll


async def poll_source(rt: Runtime, source: SourceConfig) -> PollReport:
    """Poll one source end to end. Never raises: problems are logged with the source name."""
    report = PollReport(source=source.name)
    source_id = rt.source_ids[source.name]
    try:
        with rt.factory() as session:
            row = session.get(Source, source_id)
            etag, last_modified, previous_hash = row.etag, row.last_modified, row.content_hash
        result = await rt.http.get(
            source.url, etag=etag, last_modified=last_modified, previous_hash=previous_hash
        )
        if not result.ok:
            report.ok, report.error = False, result.error or f"HTTP {result.status}"
            _record_source(rt, source, error=report.error, retry_after=result.retry_after)
        elif result.not_modified:
            report.not_modified = True
            _record_source(rt, source)
        else:
            try:
                candidates = discover(source, result.body or b"", result.headers, result.final_url, rt)
            except DiscoverError as exc:
                report.ok, report.error = False, str(exc)
                _record_source(rt, source, error=report.error)
            else:
                report.discovered = len(candidates)
                report.new = _store_candidates_safely(rt, source_id, candidates, "live")
                _record_source(
                    rt,
                    source,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    content_hash=result.content_hash,
                    validators=True,
                )
        if not report.ok:
            log.warning("source %r: %s (%s)", source.name, report.error, source.url)

        with rt.factory() as session:
            ids = due_articles(session, source_id)
        await process_articles(rt, ids, report)
    except Exception as exc:  # a bug or a database outage must not stop the other sources
        log.exception("source %r: poll failed", source.name)
        report.ok, report.error = False, f"{exc.__class__.__name__}: {exc}"
    return report


async def poll_all(rt: Runtime, sources: list[SourceConfig] | None = None) -> list[PollReport]:
    """Poll the given sources (default: all) concurrently; one failing never stops the others."""
    sources = rt.config.sources if sources is None else sources
    return list(await asyncio.gather(*(poll_source(rt, s) for s in sources)))
