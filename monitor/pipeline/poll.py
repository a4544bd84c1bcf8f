"""Poll one source: fetch it (conditional GET), discover its candidates, store the new ones,
record the poll in the source's row, then process its due articles.

The source's row holds its polling state (validators, failures, next poll time, a "410 Gone"):
written here only, on the times ``policy`` decides.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update

from monitor.config import SourceConfig
from monitor.dates import utcnow
from monitor.db.models import ArticleStatus, Origin, Source
from monitor.db.session import transaction
from monitor.fetch.robots import DISALLOWED
from monitor.logs import log_context
from monitor.pipeline.article import process_article
from monitor.pipeline.pending import PendingArticle, due_articles
from monitor.pipeline.policy import host_down, next_poll, next_poll_after_failure
from monitor.pipeline.store import store_candidates_safely
from monitor.runtime import Runtime
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.sources.listing import parse_listing
from monitor.urls import redact_text, redact_url

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    """What one poll of one source did."""

    source: str
    ok: bool = True
    error: str | None = None
    not_modified: bool = False
    disabled: bool = False
    discovered: int = 0  # candidates found on the source
    new: int = 0  # candidates not seen before
    processed: int = 0  # articles stored
    matched: int = 0  # topics matched, over all articles
    retrying: int = 0  # articles left to retry later (their page failed, or the site is down)
    failed: int = 0  # articles given up on

    @property
    def outcome(self) -> str:
        """The poll's outcome as one word (a metrics label)."""
        if self.disabled:
            return "disabled"
        if not self.ok:
            return "error"
        return "not_modified" if self.not_modified else "ok"


def discover(
    source: SourceConfig, body: bytes, headers: dict[str, str], url: str, rt: Runtime
) -> list[Candidate]:
    """Candidates from a fetched feed or listing page (raises DiscoverError)."""
    if source.kind == "feed":
        return parse_feed(body, headers, url, rt.config.source_timezone(source), feed_url=source.url)
    return parse_listing(body, headers, url, source.links)


# --------------------------------------------------------------------------- source state

_sources = Source.__table__
_SOURCE_STATE = select(
    _sources.c.etag, _sources.c.last_modified, _sources.c.content_hash, _sources.c.disabled_reason
).where(_sources.c.id == bindparam("b_id"))
_UPDATE_SOURCE = update(_sources).where(_sources.c.id == bindparam("b_id"))


def _record_success(
    rt: Runtime, source: SourceConfig, source_id: int, validators: dict | None = None
) -> None:
    """A poll that worked: failures reset, the next poll one interval later, and the response's
    ``validators`` (etag, last_modified, content_hash) kept when given. One prebuilt UPDATE: it
    runs for every poll."""
    now = utcnow()
    values = {
        "b_id": source_id,
        "last_polled_at": now,
        "last_success_at": now,
        "last_error": None,
        "consecutive_failures": 0,
        "next_poll_at": next_poll(now, source.interval),
        **(validators or {}),
    }
    with transaction(rt.factory) as session:
        session.connection().execute(_UPDATE_SOURCE, values)


def _record_failure(
    rt: Runtime, source: SourceConfig, source_id: int, error: str, retry_after: float | None = None
) -> None:
    """A failed poll: counted, and the next one backed off (``policy.next_poll_after_failure``)."""
    now = utcnow()
    with transaction(rt.factory) as session:
        row = session.get(Source, source_id)
        row.last_polled_at = now
        row.last_error = error
        row.last_error_at = now
        row.consecutive_failures = (row.consecutive_failures or 0) + 1
        row.next_poll_at = next_poll_after_failure(
            now,
            source.interval,
            row.consecutive_failures,
            retry_after=retry_after,
            cap=rt.settings.source_retry_max,
        )


def _disable_source(rt: Runtime, source_id: int, reason: str) -> None:
    """Stop polling the source until its URL changes in the config (``db.sync`` clears it)."""
    now = utcnow()
    with transaction(rt.factory) as session:
        session.connection().execute(
            _UPDATE_SOURCE,
            {
                "b_id": source_id,
                "disabled_at": now,
                "disabled_reason": reason,
                "last_error": reason,
                "last_error_at": now,
            },
        )


# --------------------------------------------------------------------------- one poll


async def poll_source(rt: Runtime, source: SourceConfig) -> PollReport:
    """Poll one source end to end. Never raises: problems are logged with the source name."""
    report = PollReport(source=source.name)
    started = time.perf_counter()
    with log_context(source=source.name):
        try:
            await _poll(rt, source, report)
        except Exception as exc:  # a bug or a database outage must not stop the other sources
            if not rt.database.failed(exc):  # an outage is logged once, not per source
                log.exception("source %r: poll failed", source.name)
            report.ok, report.error = False, redact_text(f"{exc.__class__.__name__}: {exc}")
    rt.metrics.polls.labels(source=source.name, outcome=report.outcome).inc()
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
        origin=source.url,
    )
    validators = {
        "etag": result.etag,
        "last_modified": result.last_modified,
        "content_hash": result.content_hash,
    }
    if result.status == 410:
        report.ok, report.disabled = False, True
        reason = f"{redact_url(source.url)} answered 410 Gone; fix its URL in the config to poll it again"
        report.error = f"disabled: {reason}"
        _disable_source(rt, source_id, reason)
        log.error("source %r: %s", source.name, report.error)
        return
    if not result.ok:
        report.ok, report.error = False, result.error or f"HTTP {result.status}"
        if result.robots == DISALLOWED:
            report.error += " (set 'robots: false' on the source to override)"
        _record_failure(rt, source, source_id, report.error, result.retry_after)
    elif result.not_modified:  # 304, or the same bytes as last time: nothing to parse
        report.not_modified = True
        # a 304 may bring new validators: keep them for the next request
        changed = (result.etag, result.last_modified) != (etag, last_modified)
        _record_success(rt, source, source_id, validators if changed else None)
    else:
        try:
            candidates = discover(source, result.body or b"", result.headers, result.final_url, rt)
        except DiscoverError as exc:
            report.ok, report.error = False, redact_text(str(exc))
            _record_failure(rt, source, source_id, report.error)
        else:
            report.discovered = len(candidates)
            report.new = store_candidates_safely(rt.factory, source_id, candidates, Origin.LIVE)
            _record_success(rt, source, source_id, validators)
    if not report.ok:
        log.warning("source %r: %s (%s)", source.name, report.error, redact_url(source.url))

    with rt.factory() as session:
        articles = due_articles(session, source_id)
    down = host_down(source.url, result)
    if down:  # do not spend the retries of its articles while the site itself is down
        waiting = [a for a in articles if urlsplit(a.fetch_url).hostname == down]
        report.retrying += len(waiting)
        articles = [a for a in articles if urlsplit(a.fetch_url).hostname != down]
    await process_articles(rt, articles, report)


# The PollReport counter of each article outcome.
_COUNTED = {
    ArticleStatus.DONE: "processed",
    ArticleStatus.PENDING: "retrying",
    ArticleStatus.FAILED: "failed",
}


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
        if counter := _COUNTED.get(status):
            setattr(report, counter, getattr(report, counter) + 1)


async def poll_all(rt: Runtime, sources: list[SourceConfig] | None = None) -> list[PollReport]:
    """Poll the given sources (default: all) concurrently; one failing never stops the others."""
    sources = rt.config.sources if sources is None else sources
    return list(await asyncio.gather(*(poll_source(rt, s) for s in sources)))
