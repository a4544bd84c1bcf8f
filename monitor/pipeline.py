"""Poll one source end to end: fetch, discover, dedupe, fetch pages, extract, match, store.

The units of work are plain functions over the runtime and database sessions, so the daemon,
``run --once``, backfill and (later) distributed workers run the same code.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import bindparam, insert, select, update
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
    utcnow,
)
from monitor.db.session import transaction
from monitor.extract import Extracted, ExtractError
from monitor.fetch.http import FetchResult
from monitor.fetch.robots import DISALLOWED, UNAVAILABLE
from monitor.logs import log_context
from monitor.match import TopicMatch
from monitor.runtime import Runtime
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.sources.listing import parse_listing
from monitor.stories import assign_story
from monitor.urls import canonical_url

log = logging.getLogger(__name__)

_CHUNK = 500
# Article states a backfill sets aside instead of storing (never matched, never alerted): the page
# date is outside the asked range (kept in published_at, so a wider backfill can take the row
# again), or no date was found anywhere. Live discovery of the same URL takes the row back.
OUT_OF_RANGE = "out_of_range"
UNDATED = "undated"
SET_ASIDE = (OUT_OF_RANGE, UNDATED)
ROBOTS_RETRY = 600.0  # seconds before trying again when a host's robots.txt could not be read
POLL_JITTER = 0.1  # next poll at interval × (1 ± 10 %), so sources drift apart
RETRY_AFTER_MAX = 6 * 3600.0  # a server's Retry-After is honoured up to this: a far-off date must
# not stop a source (or leave an article pending) silently


@dataclass
class PollReport:
    """What one poll of one source did."""

    source: str
    ok: bool = True
    error: str | None = None
    not_modified: bool = False
    disabled: bool = False
    discovered: int = 0
    new: int = 0
    processed: int = 0
    matched: int = 0
    retrying: int = 0
    failed: int = 0


# --------------------------------------------------------------------------- discovery


def discover(
    source: SourceConfig, body: bytes, headers: dict[str, str], url: str, rt: Runtime
) -> list[Candidate]:
    """Candidates from a fetched feed or listing page (raises DiscoverError)."""
    if source.kind == "feed":
        return parse_feed(body, headers, url, rt.config.source_timezone(source))
    return parse_listing(body, headers, url, source.links)


_KNOWN_URLS = select(Article.__table__.c.url, Article.__table__.c.origin, Article.__table__.c.status).where(
    Article.__table__.c.url.in_(bindparam("values", expanding=True))
)
_KNOWN_GUIDS = select(Article.__table__.c.guid).where(
    Article.__table__.c.source_id == bindparam("source_id"),
    Article.__table__.c.guid.in_(bindparam("values", expanding=True)),
)


def _existing(session: Session, query, values: list[str], **params) -> set[str]:
    """Which of ``values`` the (prebuilt, expanding) ``query`` finds, in chunks."""
    return {row[0] for row in _existing_rows(session, query, values, **params)}


def _existing_rows(session: Session, query, values: list[str], **params) -> list:
    """The rows the (prebuilt, expanding) ``query`` finds for ``values``, in chunks."""
    found: list = []
    conn = session.connection()
    for i in range(0, len(values), _CHUNK):
        found.extend(conn.execute(query, {"values": values[i : i + _CHUNK], **params}))
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
    if origin == "live":
        _adopt(session, [unique[url] for url, was, status in known if was != "live" and status in _ADOPTABLE])
    guids = [c.guid for c in unique.values() if c.guid]
    known_guids = _existing(session, _KNOWN_GUIDS, guids, source_id=source_id) if guids else set()
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
    if added:
        session.flush()
    return added


_ADOPTABLE = (PENDING, *SET_ASIDE)


def reopen(session: Session, where: tuple, cand: Candidate, **values) -> None:
    """Put the rows matching ``where`` back to pending, with fresh attempts and the candidate's
    feed date (a set-aside or unfinished row that is wanted again)."""
    session.execute(
        update(Article)
        .where(*where)
        .values(
            status=PENDING,
            published_at=cand.published,
            date_source="feed" if cand.published else None,
            next_fetch_at=utcnow(),
            attempts=0,
            last_error=None,
            **values,
        )
        .execution_options(synchronize_session=False)
    )


def _adopt(session: Session, candidates: list[Candidate]) -> None:
    """Turn unfinished backfill rows of these (live) candidates into live pending articles."""
    for cand in candidates:
        where = (Article.url == cand.url, Article.origin != "live", Article.status.in_(_ADOPTABLE))
        reopen(session, where, cand, origin="live")


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


_sources = Source.__table__
_SOURCE_STATE = select(
    _sources.c.etag, _sources.c.last_modified, _sources.c.content_hash, _sources.c.disabled_reason
).where(_sources.c.id == bindparam("b_id"))
_SOURCE_OK = update(_sources).where(_sources.c.id == bindparam("b_id"))


def _record_source(
    rt: Runtime,
    source: SourceConfig,
    source_id: int,
    *,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    content_hash: str | None = None,
    validators: bool = False,
    retry_after: float | None = None,
) -> None:
    """Store the outcome of a poll in the source's row: success resets the failure count and
    schedules the next poll one interval later; a failure backs off exponentially."""
    now = utcnow()
    with transaction(rt.factory) as session:
        if error is None:  # the common case, kept cheap: one prebuilt UPDATE
            values = {
                "b_id": source_id,
                "last_polled_at": now,
                "last_success_at": now,
                "last_error": None,
                "consecutive_failures": 0,
                "next_poll_at": now
                + timedelta(seconds=source.interval * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)),
            }
            if validators:
                values.update(etag=etag, last_modified=last_modified, content_hash=content_hash)
            session.connection().execute(_SOURCE_OK, values)
            return
        row = session.get(Source, source_id)
        row.last_polled_at = now
        row.last_error = error
        row.last_error_at = now
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        delay = max(
            source.interval,
            min(retry_after or 0, RETRY_AFTER_MAX),
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


_PENDING_COLUMNS = (
    Article.id,
    Source.name,
    Article.url,
    Article.fetch_url,
    Article.title,
    Article.author,
    Article.published_at,
    Article.discovered_at,
)


def load_pending(session: Session, article_id: int) -> PendingArticle | None:
    """The pending article with this id, or None when it is not (or no longer) pending."""
    row = session.execute(
        select(*_PENDING_COLUMNS)
        .join(Article.source)
        .where(Article.id == article_id, Article.status == PENDING)
    ).first()
    return PendingArticle(*row) if row else None


def due_articles(session: Session, source_id: int, now: datetime | None = None) -> list[PendingArticle]:
    """Pending live articles of a source whose (re)try time has come, oldest first.

    A backfill's pending rows are left to the backfill (re-run it to finish them): processed here,
    they would be alerted.
    """
    now = now or utcnow()
    query = (
        select(*_PENDING_COLUMNS)
        .join(Article.source)
        .where(Article.source_id == source_id, Article.status == PENDING, Article.origin == "live")
        .where((Article.next_fetch_at.is_(None)) | (Article.next_fetch_at <= now))
        .order_by(Article.discovered_at, Article.id)
    )
    return [PendingArticle(*row) for row in session.execute(query)]


# Built once: constructing SQLAlchemy statements costs more than running them on SQLite.
_articles = Article.__table__
_UPDATE_ARTICLE = update(_articles).where(_articles.c.id == bindparam("b_id"), _articles.c.status == PENDING)
_SAME_PAGE = select(_articles.c.id).where(
    (_articles.c.url == bindparam("url")) | (_articles.c.page_url == bindparam("url")),
    _articles.c.status == DONE,
)


def _source_id(session: Session, name: str) -> int:
    return session.scalar(select(Source.id).where(Source.name == name))


def publication(rt: Runtime, pending: PendingArticle, extracted: Extracted) -> tuple[datetime, str]:
    """(publication date, where it came from): the feed's (or sitemap's) date beats the page's; a
    naive page date is read in the source's timezone; else the time the article was first seen."""
    if pending.published_at is not None:
        return pending.published_at, "feed"
    source = _configured(rt, pending.source)
    published = _localise(extracted.published, rt.config.source_timezone(source) if source else rt.config.tz)
    if published is not None:
        return published, "page"
    return pending.discovered_at, "first-seen"


@dataclass(frozen=True)
class DateRange:
    """A backfill's inclusive range of publication dates (aware datetimes)."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end


def _set_aside(
    session: Session, rt: Runtime, pending: PendingArticle, extracted: Extracted, date_range: DateRange
) -> str | None:
    """Backfill: when the article's date is outside ``date_range``, or unknown, mark its row
    out_of_range (keeping the date) or undated instead of storing it, and return that status;
    None when the article is in range."""
    published, date_source = publication(rt, pending, extracted)
    if date_source != "first-seen" and published in date_range:
        return None
    status = UNDATED if date_source == "first-seen" else OUT_OF_RANGE
    note = "no publication date" if status == UNDATED else "published outside the backfill range"
    updated = session.execute(
        update(Article)  # not a row live polling took back meanwhile: live news is stored, whatever its date
        .where(Article.id == pending.id, Article.status == PENDING, Article.origin != "live")
        .values(
            status=status,
            title=extracted.title or pending.title,
            published_at=None if status == UNDATED else published,
            date_source=None if status == UNDATED else date_source,
            extracted_at=utcnow(),
            next_fetch_at=None,
            last_error=note,
        )
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        raise _NoLongerPending
    return status


class _NoLongerPending(Exception):
    """Another worker processed the article meanwhile."""


def store_article(
    session: Session,
    rt: Runtime,
    pending: PendingArticle,
    extracted: Extracted,
    hits: list[TopicMatch],
    *,
    page_url: str | None = None,
    notify: bool = True,
    note: str | None = None,
) -> int:
    """Save an extracted article with its story, matches and outbox rows (caller's transaction).

    The article must still be pending (else ``_NoLongerPending``). Returns how many topics matched.
    """
    title = extracted.title or pending.title
    published, date_source = publication(rt, pending, extracted)
    conn = session.connection()
    now = utcnow()
    # A reprint of a recent article from another outlet joins its story: one alert per story.
    story_id = assign_story(
        session,
        article_id=pending.id,
        source_id=rt.source_ids.get(pending.source) or _source_id(session, pending.source),
        title=title,
        text=extracted.text,
        published_at=published,
        **({"precomputed": extracted.fingerprint} if extracted.fingerprint is not None else {}),
    ).story_id
    updated = conn.execute(
        _UPDATE_ARTICLE,
        {
            "b_id": pending.id,
            "title": title,
            "text": extracted.text,
            "language": extracted.language or _language(rt, pending.source),
            "author": pending.author or extracted.author,
            "published_at": published,
            "date_source": date_source,
            "extracted_at": now,
            "status": DONE,
            "next_fetch_at": None,
            "last_error": note,
            "story_id": story_id,
            "page_url": page_url,
        },
    )
    if updated.rowcount != 1:
        raise _NoLongerPending
    matched = 0
    for hit in hits:
        topic_id = rt.topic_ids.get(hit.topic)
        if topic_id is None:
            continue
        session.execute(
            insert(Match).values(
                article_id=pending.id,
                topic_id=topic_id,
                **hit.columns(),
                created_at=utcnow(),
            )
        )
        enqueue(
            session,
            topic_id=topic_id,
            story_id=story_id,
            article_id=pending.id,
            channels=rt.topic_channels[hit.topic],
            status=OUT_PENDING if notify else OUT_SKIPPED,
        )
        matched += 1
    return matched


def _page_failed(
    rt: Runtime,
    pending: PendingArticle,
    error: str,
    retry_after: float | None = None,
    *,
    notify: bool = True,
    final: bool = False,
) -> tuple[str, int]:
    """Record a failed page attempt; returns (new status, topics matched).

    Before the last attempt the article stays pending, with a retry time. At the last one it is
    not dropped: when the feed gave a title or summary, those are stored and matched instead
    (noted in ``last_error``); otherwise it is marked failed with the error.
    """
    now = utcnow()
    with transaction(rt.factory) as session:
        row = session.get(Article, pending.id)
        if row is None or row.status != PENDING:
            return (row.status if row else "missing"), 0
        row.attempts = (row.attempts or 0) + 1
        row.last_error = error
        if row.attempts < rt.settings.max_page_attempts and not final:
            delay = max(
                min(retry_after or 0, RETRY_AFTER_MAX),
                _backoff(rt.settings.page_retry_base, row.attempts, rt.settings.page_retry_max),
            )
            row.next_fetch_at = now + timedelta(seconds=delay)
            return PENDING, 0
        summary = ((row.feed_data or {}).get("summary") or "").strip()
        # A backfill needs a date to know the article is in its range: without the page, only a
        # feed or sitemap date can say so.
        undated_backfill = row.origin != "live" and row.published_at is None
        if not (pending.title or summary) or undated_backfill:
            row.status, row.next_fetch_at = FAILED, None
            return FAILED, 0
        session.flush()
        from_feed = Extracted(
            title=pending.title, text=summary, published=None, language=None, author=None, canonical_url=None
        )
        language = _language(rt, pending.source)  # as store_article stores it
        hits = rt.matcher.match(pending.title, summary, source=pending.source, language=language)
        note = f"page failed ({error}); stored from the feed's title and summary"
        matched = store_article(session, rt, pending, from_feed, hits, notify=notify, note=note)
        return DONE, matched


def _page_canonical(url: str | None) -> str | None:
    """The page's declared canonical URL, unless it is useless for deduplication (a site's home
    page, as some CMSs declare on every article)."""
    if not url:
        return None
    canonical = canonical_url(url)
    path = urlsplit(canonical)
    return canonical if (path.path not in ("", "/") or path.query) else None


def _mark_duplicate(session: Session, article_id: int, page_url: str) -> bool:
    """Mark a pending article as a copy of a stored article whose URL, or whose page's canonical
    URL, is ``page_url`` (one article reached by two URLs, e.g. ``?p=123`` and its slug)."""
    if session.connection().execute(_SAME_PAGE, {"url": page_url}).first() is None:
        return False
    session.execute(
        update(Article)
        .where(Article.id == article_id, Article.status == PENDING)
        .values(status=DUPLICATE, last_error=f"same article as {page_url}", next_fetch_at=None)
        .execution_options(synchronize_session=False)
    )
    return True


def _attempt_failed(
    rt: Runtime,
    pending: PendingArticle,
    error: str,
    retry_after: float | None,
    notify: bool,
    *,
    final: bool = False,
) -> tuple[str, int]:
    status, matched = _page_failed(rt, pending, error, retry_after, notify=notify, final=final)
    outcome = {PENDING: "will retry", DONE: "gave up; stored from the feed", FAILED: "gave up"}.get(
        status, status
    )
    log.warning("source %r: article %s: %s (%s)", pending.source, pending.fetch_url, error, outcome)
    return status, matched


def _postpone(rt: Runtime, pending: PendingArticle, seconds: float, reason: str) -> tuple[str, int]:
    """Try again later without spending an attempt (the obstacle is not the page's fault)."""
    with transaction(rt.factory) as session:
        session.execute(
            update(Article)
            .where(Article.id == pending.id, Article.status == PENDING)
            .values(next_fetch_at=utcnow() + timedelta(seconds=seconds), last_error=reason)
            .execution_options(synchronize_session=False)
        )
    log.info("source %r: article %s: %s (will retry)", pending.source, pending.fetch_url, reason)
    return PENDING, 0


def _configured(rt: Runtime, source_name: str) -> SourceConfig | None:
    """The source's config, or None when a reload removed it while its poll was in flight."""
    try:
        return rt.config.source(source_name)
    except KeyError:
        return None


def _language(rt: Runtime, source_name: str) -> str | None:
    source = _configured(rt, source_name)
    return source.language if source else None


def _obeys_robots(rt: Runtime, source_name: str) -> bool:
    source = _configured(rt, source_name)
    return source.robots if source else True


async def process_article(
    rt: Runtime, article: int | PendingArticle, *, notify: bool = True, date_range: DateRange | None = None
) -> tuple[str, int]:
    """Fetch, extract, match and store one pending article; returns (new status, topics matched).

    A page that fails (timeout, 5xx, 429, no text) stays pending and is retried on later polls
    with backoff, up to ``max_page_attempts``; then the feed's title and summary are matched
    instead when there are any, else it is marked failed with its last error. With ``date_range``
    (backfill), an article dated outside it, or not dated at all, is set aside (status
    out_of_range or undated), not stored.
    """
    if isinstance(article, int):
        with rt.factory() as session:
            pending = load_pending(session, article)
        if pending is None:
            return "not pending", 0
    else:
        pending = article
    fetch_url, source_name = pending.fetch_url, pending.source

    result = await rt.http.get(fetch_url, robots=_obeys_robots(rt, source_name))
    if result.robots == UNAVAILABLE:
        return _postpone(rt, pending, ROBOTS_RETRY, result.error or "robots.txt unavailable")
    if result.robots == DISALLOWED:  # final: the site asks us not to fetch it
        return _attempt_failed(
            rt, pending, result.error or "disallowed by robots.txt", None, notify, final=True
        )
    if not result.ok or not result.body:
        return _attempt_failed(rt, pending, result.error or "empty response", result.retry_after, notify)
    try:
        extracted = await rt.extractor.extract(
            result.body, result.final_url or fetch_url, _charset(result.headers)
        )
    except ExtractError as exc:
        return _attempt_failed(rt, pending, str(exc), None, notify)

    page_url = _page_canonical(extracted.canonical_url)
    language = extracted.language or _language(rt, source_name)  # as store_article stores it
    hits = rt.matcher.match(
        extracted.title or pending.title, extracted.text, source=source_name, language=language
    )
    try:
        with transaction(rt.factory) as session:
            if page_url and _mark_duplicate(session, pending.id, page_url):
                return DUPLICATE, 0
            if date_range is not None:
                aside = _set_aside(session, rt, pending, extracted, date_range)
                if aside:
                    return aside, 0
            matched = store_article(session, rt, pending, extracted, hits, page_url=page_url, notify=notify)
    except _NoLongerPending:
        return "not pending", 0
    except Exception as exc:  # never lose the article: leave it pending for a retry
        log.exception("source %r: article %s: could not store", source_name, fetch_url)
        return _attempt_failed(
            rt, pending, f"storage error: {exc.__class__.__name__}: {exc}"[:500], None, notify
        )
    if matched:
        log.info("source %r: %s matched %d topic(s)", source_name, pending.url, matched)
        for hit in hits:
            rt.metrics.matches.labels(topic=hit.topic).inc()
    return DONE, matched


async def process_articles(
    rt: Runtime, articles: list[PendingArticle], report: PollReport, *, notify: bool = True
) -> None:
    """Process many articles concurrently (bounded), counting outcomes into ``report``."""
    limit = asyncio.Semaphore(rt.settings.article_concurrency)

    async def one(article: PendingArticle) -> tuple[str, int]:
        async with limit:
            started = time.perf_counter()
            with log_context(source=article.source, article=article.url):
                status, matched = await process_article(rt, article, notify=notify)
            rt.metrics.articles.labels(source=article.source, outcome=status).inc()
            rt.metrics.article_seconds.observe(time.perf_counter() - started)
            return status, matched

    for status, matched in await asyncio.gather(*(one(a) for a in articles)):
        report.matched += matched
        if status == DONE:
            report.processed += 1
        elif status == PENDING:
            report.retrying += 1
        elif status == FAILED:
            report.failed += 1


# --------------------------------------------------------------------------- one poll


def _host_down(url: str, result: FetchResult) -> str | None:
    """The source's host when its own fetch showed the site unreachable or failing (no answer,
    5xx, 429); None otherwise (a robots.txt refusing the source's own page says nothing of the
    site's health, nor of its article pages)."""
    if result.ok or result.robots == DISALLOWED:
        return None
    if not (result.status == 0 or result.status >= 500 or result.status == 429):
        return None
    return urlsplit(url).hostname


async def poll_source(rt: Runtime, source: SourceConfig) -> PollReport:
    """Poll one source end to end. Never raises: problems are logged with the source name."""
    report = PollReport(source=source.name)
    started = time.perf_counter()
    with log_context(source=source.name):
        try:
            await _poll(rt, source, report)
        except Exception as exc:  # a bug or a database outage must not stop the other sources
            log.exception("source %r: poll failed", source.name)
            report.ok, report.error = False, f"{exc.__class__.__name__}: {exc}"
    outcome = (
        "disabled"
        if report.disabled
        else "error"
        if not report.ok
        else "not_modified"
        if report.not_modified
        else "ok"
    )
    rt.metrics.polls.labels(source=source.name, outcome=outcome).inc()
    rt.metrics.poll_seconds.observe(time.perf_counter() - started)
    return report


async def _poll(rt: Runtime, source: SourceConfig, report: PollReport) -> None:
    source_id = rt.source_ids[source.name]
    with rt.factory() as session:
        etag, last_modified, previous_hash, disabled = session.execute(
            _SOURCE_STATE, {"b_id": source_id}
        ).one()
    if disabled:
        report.ok, report.disabled, report.error = False, True, f"disabled: {disabled}"
        return
    result = await rt.http.get(
        source.url,
        etag=etag,
        last_modified=last_modified,
        previous_hash=previous_hash,
        robots=source.kind == "html" and source.robots,  # feeds are meant for machines
    )
    if result.status == 410:
        report.ok, report.disabled = False, True
        report.error = f"disabled: {source.url} answered 410 Gone; fix its URL in the config to poll it again"
        _disable_source(rt, source_id, report.error[len("disabled: ") :])
        log.error("source %r: %s", source.name, report.error)
        return
    if not result.ok:
        report.ok, report.error = False, result.error or f"HTTP {result.status}"
        if result.robots == DISALLOWED:
            report.error += " (set 'robots: false' on the source to override)"
        _record_source(rt, source, source_id, error=report.error, retry_after=result.retry_after)
    elif result.not_modified:  # 304, or the same bytes as last time: nothing to parse
        report.not_modified = True
        _record_source(  # a 304 may bring new validators: keep them for the next request
            rt,
            source,
            source_id,
            etag=result.etag,
            last_modified=result.last_modified,
            content_hash=result.content_hash,
            validators=(result.etag, result.last_modified) != (etag, last_modified),
        )
    else:
        try:
            candidates = discover(source, result.body or b"", result.headers, result.final_url, rt)
        except DiscoverError as exc:
            report.ok, report.error = False, str(exc)
            _record_source(rt, source, source_id, error=report.error)
        else:
            report.discovered = len(candidates)
            report.new = _store_candidates_safely(rt, source_id, candidates, "live")
            _record_source(
                rt,
                source,
                source_id,
                etag=result.etag,
                last_modified=result.last_modified,
                content_hash=result.content_hash,
                validators=True,
            )
    if not report.ok:
        log.warning("source %r: %s (%s)", source.name, report.error, source.url)

    with rt.factory() as session:
        articles = due_articles(session, source_id)
    down = _host_down(source.url, result)
    if down:  # do not spend the retries of its articles while the site itself is down
        waiting = [a for a in articles if urlsplit(a.fetch_url).hostname == down]
        report.retrying += len(waiting)
        articles = [a for a in articles if urlsplit(a.fetch_url).hostname != down]
    await process_articles(rt, articles, report)


def _disable_source(rt: Runtime, source_id: int, reason: str) -> None:
    with transaction(rt.factory) as session:
        session.execute(
            update(Source)
            .where(Source.id == source_id)
            .values(disabled_at=utcnow(), disabled_reason=reason, last_error=reason, last_error_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def poll_all(rt: Runtime, sources: list[SourceConfig] | None = None) -> list[PollReport]:
    """Poll the given sources (default: all) concurrently; one failing never stops the others."""
    sources = rt.config.sources if sources is None else sources
    return list(await asyncio.gather(*(poll_source(rt, s) for s in sources)))
