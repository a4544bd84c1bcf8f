"""The backfill run: discover, store, match what is stored, process pending pages, per source."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from monitor.alerts.outbox import enqueue
from monitor.backfill.digest import send_backfill_digests
from monitor.backfill.discover import Discovery, Limits, discover_past
from monitor.backfill.progress import LogProgress, Progress
from monitor.backfill.summary import BackfillReport, SourceSummary
from monitor.config import Config, SourceConfig, TopicConfig
from monitor.db.models import DONE, DUPLICATE, FAILED, OUT_SKIPPED, PENDING, Article, Match, utcnow
from monitor.db.models import Source as SourceRow
from monitor.db.session import transaction
from monitor.logs import log_context
from monitor.match import Matcher
from monitor.pipeline import (
    OUT_OF_RANGE,
    SET_ASIDE,
    UNDATED,
    DateRange,
    PendingArticle,
    process_article,
    reopen,
    store_candidates,
)
from monitor.runtime import Runtime, Settings, open_runtime
from monitor.sources.candidate import Candidate

log = logging.getLogger("monitor.backfill")

_CHUNK = 500


def _store(rt: Runtime, source_id: int, candidates: list[Candidate], window: DateRange) -> int:
    """Store new candidates as backfill rows (chunked transactions); take back rows an earlier
    backfill set aside whose date is in this range. Returns how many were new."""
    added = 0
    for i in range(0, len(candidates), _CHUNK):
        chunk = candidates[i : i + _CHUNK]
        try:
            with transaction(rt.factory) as session:
                added += store_candidates(session, source_id, chunk, origin="backfill")
        except IntegrityError:  # stored meanwhile by live polling: one at a time
            for cand in chunk:
                try:
                    with transaction(rt.factory) as session:
                        added += store_candidates(session, source_id, [cand], origin="backfill")
                except IntegrityError:
                    continue
        _reclaim(rt, chunk, window)
    return added


def _reclaim(rt: Runtime, candidates: list[Candidate], window: DateRange) -> None:
    by_url = {c.url: c for c in candidates}
    with transaction(rt.factory) as session:
        rows = session.execute(
            select(Article.id, Article.url, Article.published_at).where(
                Article.url.in_(list(by_url)), Article.origin == "backfill", Article.status.in_(SET_ASIDE)
            )
        ).all()
        for row_id, url, stored_date in rows:
            cand = by_url[url]
            moment = cand.published or stored_date
            if moment is None or moment not in window:
                continue
            reopen(session, (Article.id == row_id, Article.status.in_(SET_ASIDE)), cand)


_PENDING_COLUMNS = (
    Article.id,
    SourceRow.name,
    Article.url,
    Article.fetch_url,
    Article.title,
    Article.author,
    Article.published_at,
    Article.discovered_at,
)


def _pending(rt: Runtime, source_id: int, window: DateRange) -> list[PendingArticle]:
    """This source's backfill rows still to process whose date (if known) is in the range."""
    with rt.factory() as session:
        rows = session.execute(
            select(*_PENDING_COLUMNS)
            .join(Article.source)
            .where(Article.source_id == source_id, Article.origin == "backfill", Article.status == PENDING)
            .where(Article.published_at.is_(None) | Article.published_at.between(window.start, window.end))
            .order_by(Article.published_at, Article.id)
        ).all()
    return [PendingArticle(*row) for row in rows]


def _match_stored(rt: Runtime, source_id: int, source: str, window: DateRange) -> int:
    """Match the run's topics against articles already stored with a date in the range; add the
    matches (and skipped outbox rows) they lack. Returns how many of them match a topic."""
    with rt.factory() as session:
        ids = list(
            session.scalars(
                select(Article.id)
                .where(Article.source_id == source_id, Article.status == DONE)
                .where(Article.published_at.between(window.start, window.end))
                .order_by(Article.id)
            )
        )
    matching = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        with transaction(rt.factory) as session:
            rows = session.execute(
                select(Article.id, Article.title, Article.text, Article.language, Article.story_id).where(
                    Article.id.in_(chunk)
                )
            ).all()
            have = {
                (row.article_id, row.topic_id)
                for row in session.execute(
                    select(Match.article_id, Match.topic_id).where(Match.article_id.in_(chunk))
                )
            }
            for article_id, title, text, language, story_id in rows:
                hits = rt.matcher.match(title, text or "", source=source, language=language)
                matching += bool(hits)
                for hit in hits:
                    topic_id = rt.topic_ids.get(hit.topic)
                    if topic_id is None or (article_id, topic_id) in have:
                        continue
                    session.execute(
                        insert(Match).values(
                            article_id=article_id, topic_id=topic_id, **hit.columns(), created_at=utcnow(),
                        )
                    )  # fmt: skip
                    if story_id is not None:
                        enqueue(
                            session, topic_id=topic_id, story_id=story_id, article_id=article_id,
                            channels=rt.topic_channels[hit.topic], status=OUT_SKIPPED,
                        )  # fmt: skip
    return matching


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
            found = Discovery(errors=[f"discovery failed: {type(exc).__name__}: {exc}"])
        summary.method, summary.errors = found.method, list(found.errors)
        summary.candidates = len(found.candidates)
        source_id = rt.source_ids[source.name]
        summary.new = _store(rt, source_id, found.candidates, window)
        summary.known = summary.candidates - summary.new
        summary.matched = _match_stored(rt, source_id, source.name, window)
        pending = _pending(rt, source_id, window)
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


def _count(summary: SourceSummary, status: str, matched: int) -> None:
    summary.fetched += 1
    if status == DONE:
        summary.in_range += 1
        summary.matched += bool(matched)
    elif status == OUT_OF_RANGE:
        summary.out_of_range += 1
    elif status == UNDATED:
        summary.undated += 1
    elif status == DUPLICATE:
        summary.known += 1
    elif status in (PENDING, FAILED):
        summary.failed += 1


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
