"""Run a topic over stored articles: back-test a new or changed topic, or recompute its matches.

Both read stored articles (status ``done``) in chunks, so memory stays flat whatever the archive
size, and match them exactly as the pipeline does (title, text, source, language as stored).
Neither ever alerts: :func:`backtest` writes nothing; :func:`rematch` stores matches without
outbox rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config, TopicConfig
from monitor.db.models import Article, ArticleStatus, Match, Source, Topic
from monitor.db.session import transaction
from monitor.db.sync import store_topic, topic_definition
from monitor.match import Matcher, TopicMatch, labels
from monitor.pipeline.matches import rematch_stored
from monitor.queries import MatchRow

__all__ = ["BacktestReport", "BacktestRow", "RematchReport", "backtest", "rematch"]

CHUNK = 500


@dataclass
class BacktestRow(MatchRow):
    """One stored article and what the topic makes of it (or made of it, for a dropped match)."""

    article_id: int
    stored: bool  # the topic already has a stored match for this article
    matched: list[str] = field(default_factory=list)  # terms as shown: "Sghrouchni ≈ Seghrouchni"


@dataclass
class BacktestReport:
    """What a topic would have matched among the scanned articles, newest first."""

    topic: str
    scanned: int = 0
    matches: list[BacktestRow] = field(default_factory=list)
    dropped: list[BacktestRow] = field(default_factory=list)  # stored matches it would no longer make
    changed: bool = False  # the stored definition differs from the tested one


@dataclass
class RematchReport:
    """How many stored articles were matched again, and what happened to the topic's matches."""

    topic: str
    scanned: int = 0
    added: int = 0
    removed: int = 0
    kept: int = 0


_COLUMNS = (
    Article.id,
    Article.title,
    Article.text,
    Article.language,
    Source.name,
    Article.published_at,
    Article.url,
)


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _match(matcher: Matcher, row) -> TopicMatch | None:
    found = matcher.match(row.title, row.text, source=row.name, language=row.language)
    return found[0] if found else None


def backtest(
    session: Session, topic: TopicConfig, *, since: datetime | None = None, chunk_size: int = CHUNK
) -> BacktestReport:
    """Match ``topic`` against stored articles (published on/after ``since``), newest first.

    Writes nothing. Rows say whether the topic already has a stored match for the article; stored
    matches the topic would no longer make are listed in ``dropped``. Raises QueryError for a bad
    topic.
    """
    matcher = Matcher([topic])
    report = BacktestReport(topic.name)
    row = session.scalars(select(Topic).where(Topic.name == topic.name)).first()
    topic_id = row.id if row is not None else None
    report.changed = row is not None and row.definition != topic_definition(topic)
    query = select(Article.id).where(Article.status == ArticleStatus.DONE)
    if since is not None:
        query = query.where(Article.published_at >= since)
    newest_first = query.order_by(Article.published_at.desc().nulls_last(), Article.id.desc())
    ids = list(session.scalars(newest_first))  # ids only: the texts are read chunk by chunk
    for chunk in _chunks(ids, chunk_size):
        found_rows = session.execute(select(*_COLUMNS).join(Article.source).where(Article.id.in_(chunk)))
        rows = {r.id: r for r in found_rows}
        stored: dict[int, Match] = {}
        if topic_id is not None:
            found = select(Match).where(Match.topic_id == topic_id, Match.article_id.in_(chunk))
            stored = {m.article_id: m for m in session.scalars(found)}
        for article_id in chunk:
            article = rows[article_id]
            report.scanned += 1
            hit = _match(matcher, article)
            old = stored.get(article_id)
            if hit is not None:
                report.matches.append(_row(topic, article, hit, stored=old is not None))
            elif old is not None:
                report.dropped.append(_row(topic, article, old, stored=True))
    return report


def _row(topic: TopicConfig, article, found: TopicMatch | Match, *, stored: bool) -> BacktestRow:
    """A backtest row: the article, and the terms, fields and snippet of a match (new or stored)."""
    return BacktestRow(
        topic.name,
        article.title,
        article.name,
        article.published_at,
        article.url,
        list(found.terms),
        list(found.fields),
        found.snippet,
        article_id=article.id,
        stored=stored,
        matched=labels(found.terms, found.hits),
    )


def rematch(
    factory: sessionmaker[Session], config: Config, name: str, *, chunk_size: int = CHUNK
) -> RematchReport:
    """Recompute the stored matches of topic ``name`` over every stored article; then store the
    topic's current definition (so the start-up warning about a changed topic stops).

    New matches are stored without outbox rows: a rematch never alerts. Matches that no longer
    hold are deleted (their unsent alerts withdrawn); the others get their terms, fields and
    snippet refreshed (``monitor.pipeline.matches.rematch_stored``). Work is committed chunk by
    chunk (the daemon can keep writing); an interrupted rematch can simply be run again.
    Raises KeyError for a topic not in the config, QueryError for a bad one.
    """
    topic = next((t for t in config.topics if t.name == name), None)
    if topic is None:
        raise KeyError(name)
    matcher = Matcher([topic])
    with transaction(factory) as session:
        topic_id = store_topic(session, topic)
    counts = rematch_stored(factory, matcher, {name: topic_id}, prune=True, chunk_size=chunk_size)
    with transaction(factory) as session:
        store_topic(session, topic, definition=True)
    return RematchReport(name, counts.scanned, counts.added, counts.removed, counts.kept)
