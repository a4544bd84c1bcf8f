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

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config, TopicConfig
from monitor.db.models import (
    DONE,
    OUT_FAILED,
    OUT_PENDING,
    OUT_SKIPPED,
    Alert,
    Article,
    Match,
    Source,
    Topic,
    utcnow,
)
from monitor.db.session import transaction
from monitor.db.sync import topic_definition
from monitor.match import Matcher, TopicMatch, labels

__all__ = ["BacktestReport", "BacktestRow", "RematchReport", "backtest", "rematch"]

CHUNK = 500


@dataclass
class BacktestRow:
    """One stored article and what the topic makes of it (or made of it, for a dropped match)."""

    article_id: int
    title: str | None
    source: str
    published: datetime | None
    url: str
    terms: list[str]
    fields: list[str]
    snippet: str | None
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
    query = select(Article.id).where(Article.status == DONE)
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
                report.matches.append(
                    BacktestRow(
                        article_id,
                        article.title,
                        article.name,
                        article.published_at,
                        article.url,
                        hit.terms,
                        hit.fields,
                        hit.snippet,
                        old is not None,
                        hit.labels,
                    )  # fmt: skip
                )
            elif old is not None:
                report.dropped.append(
                    BacktestRow(
                        article_id,
                        article.title,
                        article.name,
                        article.published_at,
                        article.url,
                        list(old.terms),
                        list(old.fields),
                        old.snippet,
                        True,
                        labels(old.terms, old.hits),
                    )  # fmt: skip
                )
    return report


def rematch(
    factory: sessionmaker[Session], config: Config, name: str, *, chunk_size: int = CHUNK
) -> RematchReport:
    """Recompute the stored matches of topic ``name`` over every stored article; then store the
    topic's current definition (so the start-up warning about a changed topic stops).

    New matches are stored without outbox rows: a rematch never alerts. Matches that no longer
    hold are deleted; the others get their terms, fields, snippet, hits and highlights refreshed.
    Work is committed chunk by chunk (the daemon can keep writing); an interrupted rematch can
    simply be run again.
    Raises KeyError for a topic not in the config, QueryError for a bad one.
    """
    topic = next((t for t in config.topics if t.name == name), None)
    if topic is None:
        raise KeyError(name)
    matcher = Matcher([topic])
    report = RematchReport(name)
    with transaction(factory) as session:
        row = session.scalars(select(Topic).where(Topic.name == name)).first()
        if row is None:
            row = Topic(name=name, definition=topic_definition(topic))
            session.add(row)
            session.flush()
        topic_id = row.id
    last_id = 0
    while True:
        with transaction(factory) as session:
            rows = session.execute(
                select(*_COLUMNS)
                .join(Article.source)
                .where(Article.status == DONE, Article.id > last_id)
                .order_by(Article.id)
                .limit(chunk_size)
            ).all()
            if not rows:
                break
            last_id = rows[-1].id
            _rematch_chunk(session, matcher, topic_id, rows, report)
    with transaction(factory) as session:
        row = session.get(Topic, topic_id)
        row.definition = topic_definition(topic)
        row.updated_at = utcnow()
    return report


def _rematch_chunk(session: Session, matcher: Matcher, topic_id: int, rows, report: RematchReport) -> None:
    ids = [r.id for r in rows]
    stored = {
        m.article_id: m
        for m in session.scalars(select(Match).where(Match.topic_id == topic_id, Match.article_id.in_(ids)))
    }
    gone = []
    for article in rows:
        report.scanned += 1
        hit = _match(matcher, article)
        old = stored.get(article.id)
        if hit is None:
            if old is not None:
                gone.append((old.id, article.id))
        elif old is None:
            session.add(
                Match(
                    article_id=article.id,
                    topic_id=topic_id,
                    **hit.columns(),
                    created_at=utcnow(),
                )
            )
            report.added += 1
        else:
            for column, value in hit.columns().items():
                if getattr(old, column) != value:
                    setattr(old, column, value)
            report.kept += 1
    if gone:
        session.execute(delete(Match).where(Match.id.in_([m for m, _ in gone])))
        # An alert not sent yet for a match that no longer holds is withdrawn, not sent.
        session.execute(
            update(Alert)
            .where(
                Alert.topic_id == topic_id,
                Alert.article_id.in_([a for _, a in gone]),
                Alert.status.in_((OUT_PENDING, OUT_FAILED)),
            )
            .values(status=OUT_SKIPPED, last_error="withdrawn: the topic no longer matches (topics rematch)")
            .execution_options(synchronize_session=False)
        )
        report.removed += len(gone)
