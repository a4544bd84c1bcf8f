"""Match rows: the one place they are written, and the one loop that matches stored articles again.

:func:`record_matches` inserts an article's match rows with their outbox rows, for a live article
(pending outbox rows, or skipped when not notifying), a backfill (skipped rows, sent later as one
digest with ``--notify``) and ``topics rematch`` (no outbox rows: a rematch never alerts).

:func:`rematch_stored` runs a matcher over stored articles chunk by chunk (each chunk its own
transaction, so memory stays flat and the daemon can keep writing; an interrupted run is simply run
again), exactly as the pipeline matches them (title, text, source and language as stored). A
backfill adds only the matches its articles lack; ``topics rematch`` also refreshes the terms and
snippets of the matches that still hold and removes those that no longer do (withdrawing their
unsent alerts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.outbox import enqueue, withdraw
from monitor.dates import utcnow
from monitor.db.models import Article, ArticleStatus, Match, OutboxStatus, Source
from monitor.db.session import transaction
from monitor.match import Matcher, TopicMatch

CHUNK = 500
_INSERT_MATCH = insert(Match.__table__)


def record_matches(
    session: Session,
    article_id: int,
    story_id: int | None,
    hits: Sequence[TopicMatch],
    topic_ids: Mapping[str, int],
    *,
    channels: Mapping[str, list[str]] | None = None,
    outbox: OutboxStatus | None = None,
) -> int:
    """Insert a match row per hit whose topic has an id in ``topic_ids`` and, with ``outbox``
    (pending or skipped) and a story, the outbox rows for that topic's ``channels`` the story does
    not have yet (caller's transaction). Returns how many match rows were inserted."""
    now = utcnow()
    rows = []
    for hit in hits:
        topic_id = topic_ids.get(hit.topic)
        if topic_id is None:
            continue
        rows.append(
            {
                "article_id": article_id,
                "topic_id": topic_id,
                **hit.columns(),  # terms, fields, snippet, hits, highlights
                "created_at": now,
            }
        )
        if outbox is not None and story_id is not None:
            enqueue(
                session,
                topic_id=topic_id,
                story_id=story_id,
                article_id=article_id,
                channels=(channels or {}).get(hit.topic, ()),
                status=outbox,
            )
    if rows:
        session.execute(_INSERT_MATCH, rows)
    return len(rows)


@dataclass
class RematchCounts:
    """What :func:`rematch_stored` did: articles scanned and those matching any topic; match rows
    added, removed (no longer holding) and kept."""

    scanned: int = 0
    matching: int = 0
    added: int = 0
    removed: int = 0
    kept: int = 0


def rematch_stored(
    factory: sessionmaker[Session],
    matcher: Matcher,
    topic_ids: Mapping[str, int],
    *,
    where: Sequence[ColumnElement[bool]] = (),
    channels: Mapping[str, list[str]] | None = None,
    outbox: OutboxStatus | None = None,
    prune: bool = False,
    chunk_size: int = CHUNK,
) -> RematchCounts:
    """Match the stored articles selected by ``where`` again with ``matcher``, in id order, and
    record the matches of ``topic_ids``'s topics they lack (with outbox rows as
    :func:`record_matches` does). With ``prune``, also refresh the stored matches of those topics
    that still hold and delete the others, withdrawing their alerts not sent yet."""
    counts = RematchCounts()
    last_id = 0
    while True:
        with transaction(factory) as session:
            rows = session.execute(
                select(
                    Article.id, Article.title, Article.text, Article.language, Article.story_id, Source.name
                )
                .join(Article.source)
                .where(Article.status == ArticleStatus.DONE, Article.id > last_id, *where)
                .order_by(Article.id)
                .limit(chunk_size)
            ).all()
            if not rows:
                return counts
            last_id = rows[-1].id
            _rematch_chunk(session, matcher, topic_ids, rows, counts, channels, outbox, prune)


def _rematch_chunk(session, matcher, topic_ids, rows, counts, channels, outbox, prune) -> None:
    stored: dict[int, dict[int, Match]] = {}  # article id -> topic id -> its stored match
    for match in session.scalars(
        select(Match).where(
            Match.article_id.in_([r.id for r in rows]), Match.topic_id.in_(list(topic_ids.values()))
        )
    ):
        stored.setdefault(match.article_id, {})[match.topic_id] = match
    gone: list[Match] = []
    for article in rows:
        counts.scanned += 1
        hits = matcher.match(
            article.title, article.text or "", source=article.name, language=article.language
        )
        counts.matching += bool(hits)
        mine = dict(stored.get(article.id, {}))
        new = []
        for hit in hits:
            old = mine.pop(topic_ids.get(hit.topic), None)
            if old is None:
                new.append(hit)
                continue
            counts.kept += 1
            if prune:  # refresh what changed (SQLAlchemy writes only the changed columns)
                for column, value in hit.columns().items():
                    if getattr(old, column) != value:
                        setattr(old, column, value)
        counts.added += record_matches(
            session, article.id, article.story_id, new, topic_ids, channels=channels, outbox=outbox
        )
        if prune:
            gone += mine.values()  # stored matches no hit confirmed
    if gone:
        session.execute(delete(Match).where(Match.id.in_([m.id for m in gone])))
        for topic_id in {m.topic_id for m in gone}:
            withdraw(
                session,
                topic_id,
                [m.article_id for m in gone if m.topic_id == topic_id],
                "withdrawn: the topic no longer matches (topics rematch)",
            )
        counts.removed += len(gone)
