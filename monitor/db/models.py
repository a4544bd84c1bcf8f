"""Database tables: sources and their polling state, articles, topics, matches, stories and their
near-duplicate index, the outbox and per-channel delivery state; and the states of articles and
outbox rows.

All timestamps are stored as naive UTC (``UtcDateTime`` converts on the way in and out),
so SQLite and PostgreSQL behave the same. States are ``StrEnum``s stored as their plain string
values in ``String`` columns (no database enum type): a new state needs no migration, and a value
read back compares equal to its member.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from monitor.dates import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Aware datetimes in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where UTC is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ArticleStatus(StrEnum):
    """Where an article is in its life (``articles.status``)::

        pending ─page stored─▶ done          (also: page failed for good, feed title/summary stored)
           │ ─page failed─▶ pending          (retry later, until the attempt limit)
           │ ─gave up, nothing to store─▶ failed
           │ ─same page as a stored article─▶ duplicate
           │ ─backfill: dated outside its range─▶ out_of_range ─┐
           └ ─backfill: no date anywhere─▶ undated ─────────────┴─rediscovered─▶ pending

    Only ``pending`` rows are ever processed; the transitions are in ``monitor.pipeline.store``.
    """

    PENDING = "pending"  # discovered, page not yet fetched/extracted (or waiting for a retry)
    DONE = "done"  # extracted, matched, stored
    FAILED = "failed"  # gave up after the retry limit; visible in `monitor status`/logs
    DUPLICATE = "duplicate"  # the page's canonical URL was already stored under another URL
    # A backfill sets these aside instead of storing them (never matched, never alerted). Live
    # discovery of the same URL, or a backfill whose range holds the date, takes the row back.
    OUT_OF_RANGE = "out_of_range"  # the page date is outside the asked range (kept in published_at)
    UNDATED = "undated"  # no date found anywhere (feed, sitemap, page)


class OutboxStatus(StrEnum):
    """Where an outbox row (``alerts.status``) is; transitions in ``monitor.alerts.outbox``."""

    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender (lease in claimed_until)
    SENT = "sent"
    FAILED = "failed"  # last attempt failed; retried at next_attempt_at
    DEAD = "dead"  # gave up after the attempt limit
    SKIPPED = "skipped"  # recorded but not to be sent (e.g. backfill without --notify)


class Origin(StrEnum):
    """Who found an article (``articles.origin``): live polling alerts it, a backfill does not."""

    LIVE = "live"
    BACKFILL = "backfill"


class Source(Base):
    """An outlet from the config, with its polling state."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # feed | html
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    last_polled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # e.g. the feed answered 410 Gone
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Story(Base):
    """A story: one or more articles (several outlets) telling the same news."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str | None] = mapped_column(Text)
    first_published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    articles: Mapped[list[Article]] = relationship(back_populates="story")


class Article(Base):
    """An article page, from discovery (pending) to extracted and matched (done)."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_source_status_next", "source_id", "status", "next_fetch_at"),
        Index("ix_articles_source_guid", "source_id", "guid"),
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_page_url", "page_url"),
        Index("ix_articles_story_id", "story_id"),
        Index("ix_articles_source_discovered", "source_id", "discovered_at"),
        # Covers the web UI's joins from a topic's matches (monitor.web.queries).
        Index("ix_articles_timeline", "id", "story_id", "published_at", "discovered_at", "source_id", "language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text, unique=True)  # canonical URL
    fetch_url: Mapped[str] = mapped_column(Text)  # the URL as discovered
    page_url: Mapped[str | None] = mapped_column(Text)  # the page's own canonical URL, once fetched
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    date_source: Mapped[str | None] = mapped_column(String(20))  # feed | page | first-seen
    discovered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    extracted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    origin: Mapped[str] = mapped_column(String(20), default=Origin.LIVE)  # Origin
    status: Mapped[str] = mapped_column(String(20), default=ArticleStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    feed_data: Mapped[dict | None] = mapped_column(JSON)  # title/summary/date from the feed
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))

    source: Mapped[Source] = relationship()
    story: Mapped[Story | None] = relationship(back_populates="articles")
    matches: Mapped[list[Match]] = relationship(back_populates="article")


class Topic(Base):
    """A watch topic from the config (kept by name so matches survive config edits)."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[dict] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Match(Base):
    """An article matched a topic: which terms, where (title/body), and a snippet."""

    __tablename__ = "matches"
    __table_args__ = (
        UniqueConstraint("article_id", "topic_id"),
        Index("ix_matches_topic_created", "topic_id", "created_at", "article_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    terms: Mapped[list] = mapped_column(JSON)  # matched terms as written in the topic
    fields: Mapped[list] = mapped_column(JSON)  # where: "title", "body"
    snippet: Mapped[str | None] = mapped_column(Text)
    # Each term's first hit per field, as found in the original text (monitor.match.Hit.to_json),
    # and the [start, end] spans of ``snippet`` to highlight; None for rows stored before 0004.
    hits: Mapped[list | None] = mapped_column(JSON)
    highlights: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    article: Mapped[Article] = relationship(back_populates="matches")
    topic: Mapped[Topic] = relationship()


class Alert(Base):
    """The durable outbox: one row per (topic, story, channel); never sent twice."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("topic_id", "story_id", "channel"),
        Index("ix_alerts_status_next", "status", "next_attempt_at"),
        Index("ix_alerts_channel_sent", "channel", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)  # per-service results from apprise
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The message this row went out in: its own id, or the first row of a digest or bundle
    # (flood control counts distinct messages per channel and hour).
    bundle_id: Mapped[int | None] = mapped_column(Integer)

    topic: Mapped[Topic] = relationship()
    story: Mapped[Story] = relationship()
    article: Mapped[Article] = relationship()


class StoryBand(Base):
    """One LSH band key of an article's MinHash signatures (see ``monitor.stories``).

    An article that shares a key with another is a near-duplicate candidate: candidates are found
    by an index lookup, so the index is shared by every process and survives restarts.
    """

    __tablename__ = "story_bands"
    __table_args__ = {"sqlite_with_rowid": False}

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ChannelState(Base):
    """Per-channel delivery state: the last digest period boundary that was handled."""

    __tablename__ = "channel_states"

    channel: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_digest_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
