"""Process one pending article: fetch its page, extract, match, store; or record why not.

A feed item without a link (``urls.is_feed_item``) has no page: its feed title and summary are
stored and matched at once.

A page that fails (timeout, 5xx, 429, no text) stays pending and is retried on later polls with
backoff, up to ``max_page_attempts`` (``policy.page_retry_at``); then the feed's title and summary
are matched instead when there are any, else the article is marked failed with its last error.
A robots.txt that cannot be read postpones the article without spending an attempt; one that
refuses the page gives up at once. A backfill (``date_range``) sets aside an article dated outside
its range, or not dated at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from monitor.config import SourceConfig
from monitor.dates import DateRange, publication, utcnow
from monitor.db.models import ArticleStatus, Source
from monitor.db.session import transaction
from monitor.decode import header_charset
from monitor.extract import Extracted, ExtractError
from monitor.fetch.robots import DISALLOWED, UNAVAILABLE
from monitor.pipeline.pending import PendingArticle, load_pending
from monitor.pipeline.policy import (
    ROBOTS_RETRY,
    page_canonical,
    page_retry_at,
    set_aside_status,
    store_from_feed,
)
from monitor.pipeline.store import (
    ArticleRecord,
    NoLongerPending,
    attempt_state,
    mark_duplicate,
    mark_failed,
    postpone,
    schedule_retry,
    set_aside,
    store_article,
)
from monitor.runtime import Runtime
from monitor.urls import is_feed_item, redact_text, redact_url

log = logging.getLogger(__name__)

FEED_ITEM_NOTE = "the feed gives this item no link: stored from its title and summary"
_OUTCOMES = {
    ArticleStatus.PENDING: "will retry",
    ArticleStatus.DONE: "gave up; stored from the feed",
    ArticleStatus.FAILED: "gave up",
}


def _configured(rt: Runtime, source_name: str) -> SourceConfig | None:
    """The source's config, or None when a reload removed it while its poll was in flight."""
    try:
        return rt.config.source(source_name)
    except KeyError:
        return None


def _origin(rt: Runtime, source: SourceConfig | None, source_name: str) -> tuple[str | None, ...]:
    """The source's configured URLs: its links may reach their hosts whatever their address."""
    if source:
        return source.url, source.sitemap
    with rt.factory() as session:  # removed by a reload while its poll was in flight: its last URL
        return (session.scalar(select(Source.url).where(Source.name == source_name)),)


def article_record(
    rt: Runtime,
    pending: PendingArticle,
    extracted: Extracted,
    *,
    page_url: str | None = None,
    note: str | None = None,
) -> ArticleRecord:
    """What is stored of the article: the page's title (else the feed's), its language (else the
    source's), the feed's author (else the page's), and its publication date
    (``dates.publication``: the feed's, else the page's read in the source's timezone, else the
    time it was first seen)."""
    source = _configured(rt, pending.source)
    tz = rt.config.source_timezone(source) if source else rt.config.tz
    published, date_source = publication(pending.published_at, extracted.published, pending.discovered_at, tz)
    return ArticleRecord(
        title=extracted.title or pending.title,
        text=extracted.text,
        language=extracted.language or (source.language if source else None),
        author=pending.author or extracted.author,
        published=published,
        date_source=date_source,
        page_url=page_url,
        note=note,
        fingerprint=extracted.fingerprint,
    )


def _from_feed(pending: PendingArticle, summary: str) -> Extracted:
    """The article as its feed tells it (title and summary), for a page that failed or never was."""
    return Extracted(
        title=pending.title, text=summary, published=None, language=None, author=None, canonical_url=None
    )


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
    settings = rt.settings
    with transaction(rt.factory) as session:
        state = attempt_state(session, pending.id)
        if state is None or state.status != ArticleStatus.PENDING:
            return (state.status if state else "missing"), 0
        attempts = state.attempts + 1
        retry_at = page_retry_at(
            utcnow(),
            attempts,
            max_attempts=settings.max_page_attempts,
            base=settings.page_retry_base,
            cap=settings.page_retry_max,
            retry_after=retry_after,
            final=final,
        )
        if retry_at is not None:
            schedule_retry(session, pending.id, attempts=attempts, error=error, at=retry_at)
            return ArticleStatus.PENDING, 0
        if not store_from_feed(
            title=pending.title, summary=state.summary, origin=state.origin, feed_date=state.published_at
        ):
            mark_failed(session, pending.id, attempts=attempts, error=error)
            return ArticleStatus.FAILED, 0
        note = f"page failed ({error}); stored from the feed's title and summary"
        stored = article_record(rt, pending, _from_feed(pending, state.summary), note=note)
        hits = rt.matcher.match(stored.title, stored.text, source=pending.source, language=stored.language)
        matched = store_article(
            session, rt, pending.id, pending.source, stored, hits, notify=notify, attempts=attempts
        )
        return ArticleStatus.DONE, matched


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
    outcome = _OUTCOMES.get(status, status)
    log.warning(
        "source %r: article %s: %s (%s)", pending.source, redact_url(pending.fetch_url), error, outcome
    )
    return status, matched


def _postpone(rt: Runtime, pending: PendingArticle, seconds: float, reason: str) -> tuple[str, int]:
    """Try again later without spending an attempt (the obstacle is not the page's fault)."""
    with transaction(rt.factory) as session:
        postpone(session, pending.id, at=utcnow() + timedelta(seconds=seconds), reason=reason)
    log.info("source %r: article %s: %s (will retry)", pending.source, redact_url(pending.fetch_url), reason)
    return ArticleStatus.PENDING, 0


async def process_article(
    rt: Runtime, article: int | PendingArticle, *, notify: bool = True, date_range: DateRange | None = None
) -> tuple[str, int]:
    """Fetch, extract, match and store one pending article; returns (new status, topics matched).

    See the module docstring for failures. With ``date_range`` (backfill), an article dated
    outside it, or not dated at all, is set aside (status out_of_range or undated), not stored.
    """
    if isinstance(article, int):
        with rt.factory() as session:
            pending = load_pending(session, article)
        if pending is None:
            return "not pending", 0
    else:
        pending = article
    fetch_url, source_name = pending.fetch_url, pending.source
    page_url = note = None
    if is_feed_item(pending.url):  # an item without a link: its feed text is all there is
        with rt.factory() as session:
            state = attempt_state(session, pending.id)
        if state is None or state.status != ArticleStatus.PENDING:
            return "not pending", 0
        extracted, note = _from_feed(pending, state.summary), FEED_ITEM_NOTE
    else:
        source = _configured(rt, source_name)
        result = await rt.http.get(
            fetch_url, robots=source.robots if source else True, origin=_origin(rt, source, source_name)
        )
        if result.robots == UNAVAILABLE:
            return _postpone(rt, pending, ROBOTS_RETRY, result.error or "robots.txt unavailable")
        if result.robots == DISALLOWED:  # final: the site asks us not to fetch it
            return _attempt_failed(
                rt, pending, result.error or "disallowed by robots.txt", None, notify, final=True
            )
        if not result.ok or not result.body:  # a refused address is final: retrying cannot help
            error = result.error or "empty response"
            return _attempt_failed(rt, pending, error, result.retry_after, notify, final=result.refused)
        try:
            extracted = await rt.extractor.extract(
                result.body, result.final_url or fetch_url, header_charset(result.headers)
            )
        except ExtractError as exc:
            return _attempt_failed(rt, pending, str(exc), None, notify)
        page_url = page_canonical(extracted.canonical_url)

    stored = article_record(rt, pending, extracted, page_url=page_url, note=note)
    hits = rt.matcher.match(stored.title, stored.text, source=source_name, language=stored.language)
    try:
        with transaction(rt.factory) as session:
            if page_url and mark_duplicate(session, pending.id, page_url):
                return ArticleStatus.DUPLICATE, 0
            aside = (
                set_aside_status(stored.date_source, stored.published, date_range)
                if date_range is not None
                else None
            )
            if aside is not None:
                status, note = aside
                undated = status == ArticleStatus.UNDATED
                set_aside(
                    session,
                    pending.id,
                    status,
                    note,
                    title=stored.title,
                    published=None if undated else stored.published,
                    date_source=None if undated else stored.date_source,
                )
                return status, 0
            matched = store_article(session, rt, pending.id, source_name, stored, hits, notify=notify)
    except NoLongerPending:
        return "not pending", 0
    except Exception as exc:  # never lose the article: leave it pending for a retry
        if not rt.database.failed(exc):  # an outage is logged once, not per article
            log.exception("source %r: article %s: could not store", source_name, redact_url(fetch_url))
        return _attempt_failed(
            rt, pending, redact_text(f"storage error: {exc.__class__.__name__}: {exc}")[:500], None, notify
        )
    if matched:
        log.info("source %r: %s matched %d topic(s)", source_name, redact_url(pending.url), matched)
        for hit in hits:
            rt.metrics.matches.labels(topic=hit.topic).inc()
    return ArticleStatus.DONE, matched
