"""The backfill run: discover, store, match what is stored, process pending pages, per source."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from monitor.backfill.digest import send_backfill_digests
from monitor.backfill.discover import Discovery, Limits, discover_past
from monitor.backfill.progress import LogProgress, Progress
from monitor.backfill.summary import BackfillReport, SourceSummary
from monitor.config import Config, SourceConfig, TopicConfig
from monitor.dates import DateRange
from monitor.db.models import Article, ArticleStatus, Origin, OutboxStatus
from monitor.logs import log_context
from monitor.match import Matcher
from monitor.pipeline.article import process_article
from monitor.pipeline.matches import rematch_stored
from monitor.pipeline.pending import PendingArticle, backfill_pending
from monitor.pipeline.store import reclaim, store_candidates_safely
from monitor.runtime import Runtime, Settings, open_runtime
from monitor.sources.candidate import Candidate
from monitor.urls import redact_text

log = logging.getLogger("monitor.backfill")


def _store(rt: Runtime, source_id: int, candidates: list[Candidate], window: DateRange) -> int:
    """Store new candidates as backfill rows; take back rows an earlier backfill set aside whose
    date is in this range. Returns how many were new."""
    added = store_candidates_safely(rt.factory, source_id, candidates, Origin.BACKFILL)
    reclaim(rt.factory, candidates, window)
    return added


def _match_stored(rt: Runtime, source_id: int, window: DateRange) -> int:
    """Match the run's topics against articles already stored with a date in the range; add the
    matches (and skipped outbox rows) they lack. Returns how many of them match a topic."""
    counts = rematch_stored(
        rt.factory,
        rt.matcher,
        rt.topic_ids,
        where=(Article.source_id == source_id, Article.published_at.between(window.start, window.end)),
        channels=rt.topic_channels,
        outbox=OutboxStatus.SKIPPED,
    )
    return counts.matching


# --------------------------------------------------------------------------- one source


async def _backfill_source(
    rt: Runtime,
    source: SourceConfig,
    window: DateRange,
    limits: Limits,
    progress: Progress,
    slots: asyncio.Semaphore,
) -> SourceSummary:
    summary = SourceSummary(source.name)
    with log_context(source=source.name):
        try:
            found = await discover_past(rt, source, window.start, window.end, limits=limits)
        except Exception as exc:  # a bug must not stop the other sources
            log.exception("backfill %r: discovery failed", source.name)
            found = Discovery(errors=[redact_text(f"discovery failed: {type(exc).__name__}: {exc}")])
        summary.method, summary.errors = found.method, list(found.errors)
        summary.candidates = len(found.candidates)
        source_id = rt.source_ids[source.name]
        summary.new = _store(rt, source_id, found.candidates, window)
        summary.known = summary.candidates - summary.new
        summary.matched = _match_stored(rt, source_id, window)
        with rt.factory() as session:
            pending = backfill_pending(session, source_id, window)
    progress.discovered(summary, len(pending))

    async def one(article: PendingArticle) -> None:
        async with slots:
            with log_context(source=article.source, article=article.url):
                status, matched = await process_article(rt, article, notify=False, date_range=window)
        _count(summary, status, matched)
        progress.article(summary)

    async with asyncio.TaskGroup() as group:
        for article in pending:
            group.create_task(one(article))
    progress.finished(summary)
    return summary


# The SourceSummary counter of each article outcome (pending: a page that failed this time).
_COUNTED = {
    ArticleStatus.DONE: "in_range",
    ArticleStatus.OUT_OF_RANGE: "out_of_range",
    ArticleStatus.UNDATED: "undated",
    ArticleStatus.DUPLICATE: "known",
    ArticleStatus.PENDING: "failed",
    ArticleStatus.FAILED: "failed",
}


def _count(summary: SourceSummary, status: str, matched: int) -> None:
    summary.fetched += 1
    summary.matched += bool(matched)  # only a stored (done) article has matches
    if counter := _COUNTED.get(status):
        setattr(summary, counter, getattr(summary, counter) + 1)


# --------------------------------------------------------------------------- the run


def select_sources(
    config: Config, names: Sequence[str] | None, topics: Sequence[TopicConfig]
) -> list[SourceConfig]:
    """The sources named (KeyError for an unknown one), else those the topics are restricted to,
    else all."""
    if names:
        return [config.source(name) for name in dict.fromkeys(names)]
    if topics and all(t.sources for t in topics):
        wanted = {s for t in topics for s in t.sources}
        return [s for s in config.sources if s.name in wanted]
    return list(config.sources)


def select_topics(config: Config, names: Sequence[str] | None) -> list[TopicConfig]:
    """The topics named (KeyError for an unknown one), else all."""
    if not names:
        return list(config.topics)
    by_name = {t.name: t for t in config.topics}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(missing[0])
    return [by_name[n] for n in dict.fromkeys(names)]


async def run_backfill(
    config: Config,
    start: datetime,
    end: datetime,
    *,
    sources: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    notify: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> BackfillReport:
    """Backfill ``[start, end]`` (aware, inclusive) for the given sources and topics (default:
    all); see the module docstring. Raises ValueError when ``start`` is after ``end`` and KeyError
    for an unknown source or topic name."""
    if start > end:
        raise ValueError("the start of the range is after its end")
    chosen_topics = select_topics(config, topics)
    chosen = select_sources(config, sources, chosen_topics if topics else [])
    progress = progress or LogProgress()
    limits = limits or Limits()
    window = DateRange(start, end)
    async with open_runtime(config, settings) as rt:
        if topics:
            rt.matcher = Matcher(chosen_topics)
        slots = asyncio.Semaphore(rt.settings.article_concurrency)
        progress.start([s.name for s in chosen])
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(_backfill_source(rt, s, window, limits, progress, slots))
                    for s in chosen
                ]
        finally:
            progress.close()
        report = BackfillReport([t.result() for t in tasks])
        if notify:
            report.digests = await asyncio.to_thread(
                send_backfill_digests,
                rt,
                window,
                [s.name for s in chosen],
                [t.name for t in chosen_topics],
            )
    return report
