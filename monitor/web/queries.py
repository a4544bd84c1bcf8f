"""Read-side queries of the web pages: a topic's stories (keyset paging), its counts per day, a
story with its articles, the topics' latest stories.

A topic page lists *stories*, not articles: the matched articles of the topic are grouped by
story, and a story is placed at the time of its first matched article (its ``when``: publication
time, else the time we first saw it), so pages are stable while reprints keep arriving. Paging is
by keyset on ``(when, story id)``: cost does not grow with the page number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import and_, any_, func, or_, select
from sqlalchemy.orm import Session

from monitor.db.models import Article, Match, Source, Story, Topic

# When an article appeared: its publication time, else the time it was first seen.
published_or_seen = func.coalesce(Article.published_at, Article.discovered_at)
# The covering index of a topic's timeline (migration 0005), named for SQLite (see web.database).
TIMELINE = ("INDEXED BY ix_articles_timeline", "sqlite")
CHART_DAYS = 30
MATCHED_SLACK = timedelta(days=2)


@dataclass
class ArticleItem:
    """One article as the pages show it."""

    id: int
    story_id: int | None
    title: str | None
    url: str
    outlet: str
    language: str | None
    when: datetime
    seen: datetime  # when the monitor first saw it


@dataclass
class StoryItem:
    """A story on a topic page: its first matched article, why it matched, the other outlets."""

    story_id: int
    lead: ArticleItem
    terms: list[str]
    fields: list[str]
    snippet: str | None
    also: list[ArticleItem] = field(default_factory=list)

    @property
    def updated(self) -> datetime:
        """When the story last changed for us (an article joined it)."""
        return max([self.lead.seen, *(a.seen for a in self.also)])


@dataclass(frozen=True)
class StoryFilter:
    """Which matched articles count: some outlets, one language, a date range (aware datetimes)."""

    source_ids: tuple[int, ...] | None = None
    language: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list:
        where = []
        if self.source_ids is not None:
            where.append(Article.source_id.in_(self.source_ids))
        if self.language:
            where.append(or_(Article.language == self.language, Article.language.like(f"{self.language}-%")))
        if self.since is not None:
            where.append(published_or_seen >= self.since)
        if self.until is not None:
            where.append(published_or_seen <= self.until)
        return where


Cursor = tuple[datetime, int | None]  # stories strictly before (when, story id); id None: before when


def topic_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Topic.id).where(Topic.name == name))


def source_ids(session: Session, names: Iterable[str]) -> tuple[int, ...]:
    return tuple(session.scalars(select(Source.id).where(Source.name.in_(list(names)))))


def topic_stories(
    session: Session,
    topic: int,
    *,
    filters: StoryFilter = StoryFilter(),
    before: Cursor | None = None,
    limit: int = 20,
) -> tuple[list[StoryItem], Cursor | None]:
    """One page of the topic's stories, newest first, and the cursor of the next page (or None)."""
    first = func.min(published_or_seen).label("first")
    query = (
        select(Article.story_id, first)
        .where(_matched_by(session, topic), Article.story_id.is_not(None), *filters.conditions())
        .group_by(Article.story_id)
        .order_by(first.desc(), Article.story_id.desc())
        .limit(limit + 1)
        .with_hint(Article, *TIMELINE)
    )
    if before is not None:
        at, story = before
        query = query.having(
            first < at if story is None else or_(first < at, and_(first == at, Article.story_id < story))
        )
    keys = session.execute(query).all()
    more = len(keys) > limit
    keys = keys[:limit]
    stories = _stories(session, topic, [k.story_id for k in keys], filters)
    cursor = (keys[-1].first, keys[-1].story_id) if more else None
    return stories, cursor


def _matched_by(session: Session, topic: int):
    """``articles.id`` among the topic's matched articles, written so that each is looked up in
    the covering index: as a join, PostgreSQL prefers merging with a scan of the whole index."""
    ids = select(Match.article_id).where(Match.topic_id == topic)
    if session.get_bind().dialect.name == "postgresql":
        return Article.id == any_(func.array(ids.scalar_subquery()))
    return Article.id.in_(ids)


_ITEM_COLUMNS = (
    Article.id,
    Article.story_id,
    Article.title,
    Article.url,
    Source.name.label("outlet"),
    Article.language,
    published_or_seen.label("when"),
    Article.discovered_at,
)


def _item(row) -> ArticleItem:
    return ArticleItem(
        row.id, row.story_id, row.title, row.url, row.outlet, row.language, row.when, row.discovered_at
    )


def _stories(session: Session, topic: int, ids: Sequence[int], filters: StoryFilter) -> list[StoryItem]:
    """The stories ``ids`` (in that order): lead article, its match, and the story's other articles.

    The stories' articles come first (by story), then the topic's matches among them (by
    article): asked the other way round, SQLite walks every match of the topic.
    """
    if not ids:
        return []
    members: dict[int, list[ArticleItem]] = {}
    for row in session.execute(
        select(*_ITEM_COLUMNS)
        .join(Article.source)
        .where(Article.story_id.in_(ids))
        .order_by(published_or_seen, Article.id)
    ):
        members.setdefault(row.story_id, []).append(_item(row))
    articles = [a.id for items in members.values() for a in items]
    query = select(Match.article_id, Match.terms, Match.fields, Match.snippet).where(
        Match.topic_id == topic, Match.article_id.in_(articles)
    )
    if filters.conditions():
        query = query.join(Article, Article.id == Match.article_id).where(*filters.conditions())
    matched = {row.article_id: row for row in session.execute(query)}
    out = []
    for story_id in ids:
        items = members.get(story_id, [])
        lead = next((a for a in items if a.id in matched), None)  # the first matched article
        if lead is None:  # the match went away between the queries
            continue
        match = matched[lead.id]
        also = [a for a in items if a.id != lead.id]
        out.append(StoryItem(story_id, lead, list(match.terms), list(match.fields), match.snippet, also))
    return out


# --------------------------------------------------------------------------- counts


def day_starts(now: datetime, tz: tzinfo, days: int = CHART_DAYS) -> list[datetime]:
    """The local midnights of the last ``days`` days (oldest first; the last one is today's)."""
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    starts = []
    for back in range(days - 1, -1, -1):
        day = (today - timedelta(days=back)).date()
        starts.append(datetime(day.year, day.month, day.day, tzinfo=tz))
    return starts


@dataclass
class Activity:
    """A topic's matches per local day over the chart's days, and its usual counts."""

    days: list[datetime]  # local midnights, oldest first
    counts: list[int]
    today: int = 0
    week: int = 0
    month: int = 0
    newest: tuple[datetime, int] | None = None  # (when, story) of the newest match in the window


def activity(
    session: Session, topics: Sequence[int], now: datetime, tz: tzinfo, filters: StoryFilter = StoryFilter()
) -> dict[int, Activity]:
    """Matches per local day for each topic, over the last :data:`CHART_DAYS` days."""
    days = day_starts(now, tz)
    result = {t: Activity(days, [0] * len(days)) for t in topics}
    if not topics:
        return result
    rows = session.execute(
        select(Match.topic_id, published_or_seen, Article.story_id)
        .join(Article, Article.id == Match.article_id)
        .where(
            Match.topic_id.in_(list(topics)),
            # Only the matches made since the chart began are looked up, not the topic's history:
            # an article is matched after it is published (the slack forgives clocks and zones).
            Match.created_at >= days[0] - MATCHED_SLACK,
            published_or_seen >= days[0],
            *filters.conditions(),
        )
        .with_hint(Article, *TIMELINE)
    )
    week_ago, month_ago = now - timedelta(days=7), now - timedelta(days=30)
    for topic, when, story in rows:
        act = result[topic]
        if story is not None and (act.newest is None or (when, story) > act.newest):
            act.newest = (when, story)
        local = when.astimezone(tz)
        index = (local.date() - days[0].date()).days
        if 0 <= index < len(days):
            act.counts[index] += 1
        act.today += when >= days[-1]
        act.week += when >= week_ago
        act.month += when >= month_ago
    return result


def latest_story(session: Session, topic: int, recent: Activity | None = None) -> StoryItem | None:
    """The story of the topic's newest match (found in ``recent`` when it has one)."""
    if recent is not None and recent.newest is not None:
        stories = _stories(session, topic, [recent.newest[1]], StoryFilter())
    else:
        stories, _ = topic_stories(session, topic, limit=1)
    return stories[0] if stories else None


# --------------------------------------------------------------------------- one story


@dataclass
class StoryDetail:
    id: int
    title: str | None
    articles: list[ArticleItem]  # oldest first
    topics: list[str]  # every topic one of its articles matched
    terms: list[str]  # every matched term (for highlighting)
    text: str | None  # the first article's extracted text
    first: datetime | None
    last: datetime | None


def story_detail(session: Session, story_id: int) -> StoryDetail | None:
    story = session.get(Story, story_id)
    if story is None:
        return None
    articles = [
        _item(r)
        for r in session.execute(
            select(*_ITEM_COLUMNS)
            .join(Article.source)
            .where(Article.story_id == story_id)
            .order_by(published_or_seen, Article.id)
        )
    ]
    found = session.execute(
        select(Topic.name, Match.terms)
        .join(Match.topic)
        .join(Article, Article.id == Match.article_id)
        .where(Article.story_id == story_id)
        .order_by(Topic.name)
    ).all()
    text = session.scalar(select(Article.text).where(Article.id == articles[0].id)) if articles else None
    return StoryDetail(
        id=story.id,
        title=story.title,
        articles=articles,
        topics=list(dict.fromkeys(name for name, _ in found)),
        terms=list(dict.fromkeys(t for _, terms in found for t in terms)),
        text=text,
        first=articles[0].when if articles else None,
        last=articles[-1].when if articles else None,
    )


def languages(session: Session, ids: Sequence[int]) -> dict[int, str | None]:
    """The language of each of these articles."""
    if not ids:
        return {}
    return dict(session.execute(select(Article.id, Article.language).where(Article.id.in_(list(ids)))).all())
