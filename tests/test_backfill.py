"""Backfill end to end against real local servers (three outlets on three hosts) and the database
(SQLite and PostgreSQL): a sitemap index with dated, gzipped and news sitemaps; a paginated HTML
listing; a paginated WordPress feed."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from html import escape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitor.backfill import Progress, SourceSummary, discover_past, run_backfill
from monitor.dates import DateRange, parse_user_date
from monitor.db.models import Alert, Article, ArticleStatus, Match, OutboxStatus, Source, Topic
from monitor.db.session import transaction
from monitor.pipeline import (
    due_articles,
    load_pending,
    process_article,
    store_candidates,
)
from monitor.runtime import open_runtime
from monitor.sources.candidate import Candidate
from tests.helpers import DATACENTRE, FAST, SEGHROUCHNI, cli, count, db, make_config, once
from tests.servers import Response, Site
from tests.sitegen import article_page, rss_feed

TZ = ZoneInfo("Africa/Casablanca")  # UTC+1 in July 2025
START = parse_user_date("2025-07-01", TZ)
END = parse_user_date("2025-07-15", TZ, end_of_day=True)


def text_of(title: str, *extra: str) -> list[str]:
    """Paragraphs of their own for each article (shared filler would cluster them into one story)."""
    words = title.lower().split()
    return [
        f"{title}. " + " ".join(f"{w}{i}" for i, w in enumerate(words * 6)),
        *extra,
        f"Reporters followed the {words[-1]} story closely; " + " ".join(reversed(words * 5)) + ".",
    ]


# --------------------------------------------------------------------------- three outlets


class Outlets:
    """Atlas (sitemaps via robots.txt), Front (HTML listing, no sitemap), Wire (WordPress feed)."""

    def __init__(self, atlas: Site, front: Site, wire: Site) -> None:
        self.atlas, self.front, self.wire = atlas, front, wire
        self.serve_atlas()
        self.serve_front()
        self.serve_wire()

    def page(self, site: Site, path: str, title: str, published: str | None, *extra: str) -> None:
        site.route(path, Response(article_page(title, text_of(title, *extra), published=published)))

    # Atlas: robots.txt -> index -> June sitemap (too old), July sitemap (gzip), news sitemap.
    def serve_atlas(self) -> None:
        s, base = self.atlas, self.atlas.base
        s.route("/robots.txt", Response(f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap_index.xml\n",
                                        content_type="text/plain"))  # fmt: skip
        index = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{base}/sitemap-2025-06.xml</loc><lastmod>2025-06-30T12:00:00+01:00</lastmod></sitemap>"
            f"<sitemap><loc>{base}/sitemap-2025-07.xml.gz</loc><lastmod>2025-07-20T08:00:00+01:00</lastmod></sitemap>"
            f"<sitemap><loc>{base}/news-sitemap.xml</loc><lastmod>2025-07-20</lastmod></sitemap>"
            "</sitemapindex>"
        )
        s.route("/sitemap_index.xml", Response(index, content_type="application/xml"))
        s.route("/sitemap-2025-06.xml", Response(urlset(base, [("/2025/06/10/june-story-here/", "2025-06-10")]),
                                                 content_type="application/xml"))  # fmt: skip
        july = urlset(
            base,
            [
                ("/2025/07/03/digital-strategy-presented/", "2025-07-03T10:00:00+01:00"),
                ("/2025/07/10/cup-final-ends-in-a-draw/", "2025-07-10"),
                ("/2025/07/22/after-the-range-by-url/", "2025-07-22"),  # the URL's date excludes it
                ("/news/budget-vote-postponed-again", "2025-07-18"),  # page date: 17 July
                ("/news/old-interview-updated", "2025-07-05"),  # page date: 20 June
                ("/news/undated-opinion-piece", "2025-07-06"),  # no date anywhere
                ("/news/old-edited-before-the-range", "2025-06-25"),  # lastmod excludes it
            ],
        )
        # A .xml.gz served as a file: gzip without Content-Encoding.
        s.route(
            "/sitemap-2025-07.xml.gz", Response(gzip.compress(july.encode()), content_type="application/gzip")
        )
        news = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + news_url(
                base, "/news/tangier-data-centre-project", "2025-07-14T23:30:00Z", "Tangier data centre"
            )
            + news_url(base, "/news/midnight-data-centre-announcement", "2025-06-30T23:30:00Z", "Midnight")
            + news_url(base, "/news/data-centre-vote-delayed", "2025-07-16T01:00:00+01:00", "Vote delayed")
            + "</urlset>"
        )
        s.route("/news-sitemap.xml", Response(news, content_type="application/xml"))
        self.page(s, "/2025/07/03/digital-strategy-presented/", "Digital strategy presented to parliament",
                  "2025-07-03T09:00:00+01:00", SEGHROUCHNI)  # fmt: skip
        self.page(s, "/2025/07/10/cup-final-ends-in-a-draw/", "Cup final ends in a draw after extra time",
                  "2025-07-10T22:00:00+01:00")  # fmt: skip
        self.page(
            s, "/2025/07/22/after-the-range-by-url/", "After the range by url", "2025-07-22T09:00:00+01:00"
        )
        self.page(s, "/news/budget-vote-postponed-again", "Budget vote postponed again in parliament",
                  "2025-07-17T11:00:00+01:00", SEGHROUCHNI)  # fmt: skip
        self.page(s, "/news/old-interview-updated", "An old interview with the minister, updated",
                  "2025-06-20T11:00:00+01:00", SEGHROUCHNI)  # fmt: skip
        self.page(
            s, "/news/undated-opinion-piece", "Opinion: what the digital plan forgets", None, SEGHROUCHNI
        )
        self.page(
            s, "/news/old-edited-before-the-range", "Edited before the range", "2025-06-01T10:00:00+01:00"
        )
        # News dates beat page dates: these pages claim other days.
        self.page(s, "/news/tangier-data-centre-project", "Tangier to host a new data centre",
                  "2025-06-01T10:00:00+01:00", DATACENTRE)  # fmt: skip
        self.page(s, "/news/midnight-data-centre-announcement", "Midnight announcement of a data centre plan",
                  "2025-06-30T10:00:00+01:00", "The ministry confirmed the data centre tender at midnight.")  # fmt: skip
        self.page(s, "/news/data-centre-vote-delayed", "Data centre vote delayed", "2025-07-16T01:00:00+01:00",
                  DATACENTRE)  # fmt: skip

    ATLAS_IN = {
        "/2025/07/03/digital-strategy-presented/",
        "/2025/07/10/cup-final-ends-in-a-draw/",
        "/news/tangier-data-centre-project",
        "/news/midnight-data-centre-announcement",
    }
    ATLAS_NEVER = {
        "/sitemap-2025-06.xml",
        "/2025/06/10/june-story-here/",
        "/2025/07/22/after-the-range-by-url/",
        "/news/old-edited-before-the-range",
        "/news/data-centre-vote-delayed",
    }

    # Front: /news/ (after the range), /news/page/2/ (in it), /news/page/3/ (before it), /news/page/4/.
    def serve_front(self) -> None:
        s = self.front
        pages = {
            "/news/": ([("2025-07-20", "/2025/07/20/festival-opens-in-rabat/", "Festival opens in Rabat"),
                        ("2025-07-19", "/2025/07/19/heatwave-warning-issued/", "Heatwave warning issued"),
                        ("2025-07-16", "/2025/07/16/port-traffic-record-month/", "Port traffic record month")],
                       '<link rel="next" href="/news/page/2/">', ""),
            "/news/page/2/": ([("2025-07-14", "/2025/07/14/seghrouchni-meets-founders/", "Seghrouchni meets founders"),
                               ("2025-07-08", "/2025/07/08/new-tram-line-opens/", "New tram line opens"),
                               ("2025-07-01", "/2025/07/01/summer-exams-results-out/", "Summer exams results out")],
                              "", '<a href="/news/page/3/">Suivant</a>'),
            "/news/page/3/": ([("2025-06-28", "/2025/06/28/june-budget-debate-ends/", "June budget debate ends"),
                               ("2025-06-20", "/2025/06/20/june-football-report-here/", "June football report")],
                              "", '<a href="/news/page/4/">›</a>'),
            "/news/page/4/": ([("2025-06-10", "/2025/06/10/early-june-story-here/", "Early June story")], "", ""),
        }  # fmt: skip
        for path, (items, head, nav) in pages.items():
            s.route(path, Response(listing(items, head, nav)))
            for day, href, title in items:
                extra = (SEGHROUCHNI,) if "seghrouchni" in href else ()
                self.page(s, href, title + " this week", f"{day}T10:00:00+01:00", *extra)

    FRONT_IN = {
        "/2025/07/14/seghrouchni-meets-founders/",
        "/2025/07/08/new-tram-line-opens/",
        "/2025/07/01/summer-exams-results-out/",
    }

    # Wire: /feed/ and /feed/?paged=2, then 404.
    def serve_wire(self) -> None:
        s, base = self.wire, self.wire.base

        def item(path: str, when: datetime, title: str) -> dict:
            return {"title": title, "link": base + path, "published": when}

        page1 = [
            item(
                "/wire/late-night-vote-result", datetime(2025, 7, 15, 23, 30, tzinfo=UTC), "Late vote"
            ),  # 16 Jul
            item("/wire/ports-expand-capacity", datetime(2025, 7, 12, 9, 0, tzinfo=UTC), "Ports expand"),
            item(
                "/wire/data-centre-tender-opens", datetime(2025, 7, 9, 9, 0, tzinfo=UTC), "Data centre tender"
            ),
        ]
        page2 = [
            item("/wire/rail-strike-averted", datetime(2025, 7, 5, 9, 0, tzinfo=UTC), "Rail strike averted"),
            item(
                "/wire/first-minute-of-july", datetime(2025, 6, 30, 23, 30, tzinfo=UTC), "First minute"
            ),  # 1 Jul
        ]
        pages = {"": page1, "2": page2}  # ?paged=3 and beyond: 404, as WordPress answers

        def feed(req) -> Response:
            items = pages.get(req.path.partition("paged=")[2])
            if items is None:
                return Response("not found", status=404, content_type="text/plain")
            return Response(rss_feed(base, items), content_type="application/rss+xml")

        s.route("/feed/", feed)
        for entry in page1 + page2:
            path = entry["link"][len(base) :]
            extra = (DATACENTRE,) if "data-centre" in path else ()
            self.page(s, path, entry["title"] + " in the news", None, *extra)

    WIRE_IN = {
        "/wire/ports-expand-capacity",
        "/wire/data-centre-tender-opens",
        "/wire/rail-strike-averted",
        "/wire/first-minute-of-july",
    }

    def sources(self) -> list[dict]:
        return [
            {"name": "Atlas", "feed": self.atlas.url("/feed.xml")},
            {"name": "Front", "html": self.front.url("/news/")},
            {"name": "Wire", "feed": self.wire.url("/feed/")},
        ]

    def expected(self) -> set[str]:
        return (
            {self.atlas.url(p) for p in self.ATLAS_IN}
            | {self.front.url(p) for p in self.FRONT_IN}
            | {self.wire.url(p) for p in self.WIRE_IN}
        )


NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(base: str, rows: list[tuple[str, str]]) -> str:
    urls = "".join(f"<url><loc>{base}{path}</loc><lastmod>{mod}</lastmod></url>" for path, mod in rows)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


NEWS_NS = f'{NS} xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def news_url(base: str, path: str, published: str, title: str) -> str:
    return (
        f"<url><loc>{base}{path}</loc><news:news><news:publication><news:name>Atlas</news:name>"
        f"<news:language>en</news:language></news:publication>"
        f"<news:publication_date>{published}</news:publication_date><news:title>{escape(title)}</news:title>"
        "</news:news></url>"
    )


def listing(items: list[tuple[str, str, str]], head: str, nav: str) -> str:
    cards = "".join(
        f'<article class="teaser"><h2><a href="{href}">{escape(title)}</a></h2>'
        f'<time datetime="{day}T10:00:00+01:00">{day}</time></article>'
        for day, href, title in items
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>News</title>{head}</head>'
        f'<body><main><h1>Latest news</h1>{cards}<div class="pages">{nav}</div></main></body></html>'
    )


@pytest.fixture
def outlets(site):
    front, wire = Site(), Site()
    yield Outlets(site, front, wire)
    front.close()
    wire.close()


def config(tmp_path, db_url, outlets, channels=None):
    hook = outlets.atlas.base[7:] + "/hook"
    outlets.atlas.route("/hook", Response("ok", content_type="text/plain"))
    extra = {"channels": channels} if channels else {}
    return make_config(tmp_path, db_url, outlets.sources(), hook, **extra)


def backfill(cfg, start=START, end=END, **options):
    return asyncio.run(run_backfill(cfg, start, end, settings=FAST, **options))


def snapshot(factory) -> dict:
    """Everything a backfill decides, without ids and timestamps."""
    with factory() as s:
        articles = s.execute(
            select(Article.url, Article.status, Article.origin, Article.published_at, Article.date_source)
        ).all()
        matches = s.execute(select(Article.url, Topic.name).join(Match.article).join(Match.topic)).all()
        alerts = s.execute(
            select(Article.url, Topic.name, Alert.channel, Alert.status).join(Alert.article).join(Alert.topic)
        ).all()
    return {"articles": sorted(articles), "matches": sorted(matches), "alerts": sorted(alerts)}


def stored(factory, *where) -> set[str]:
    with factory() as s:
        return set(s.scalars(select(Article.url).where(Article.status == ArticleStatus.DONE, *where)))


# --------------------------------------------------------------------------- the tests


def test_exactly_the_articles_of_the_range_are_stored_and_a_second_run_adds_nothing(
    tmp_path, db_url, outlets
):
    cfg = config(tmp_path, db_url, outlets)
    report = backfill(cfg)
    by_name = {s.source: s for s in report.sources}
    assert by_name["Atlas"].method == "sitemap"
    assert by_name["Front"].method == "listing"
    assert by_name["Wire"].method == "feed pages"
    assert all(not s.errors for s in report.sources), [s.errors for s in report.sources]

    factory = db(cfg)
    assert stored(factory) == outlets.expected()
    assert stored(factory, Article.origin == "backfill") == outlets.expected()
    with factory() as s:
        statuses = dict(
            s.execute(select(Article.url, Article.status).where(Article.status != ArticleStatus.DONE)).all()
        )
        dates = dict(s.execute(select(Article.url, Article.published_at)).all())
    a, f = outlets.atlas.url, outlets.front.url
    assert statuses == {
        a("/news/budget-vote-postponed-again"): ArticleStatus.OUT_OF_RANGE,
        a("/news/old-interview-updated"): ArticleStatus.OUT_OF_RANGE,
        a("/news/undated-opinion-piece"): ArticleStatus.UNDATED,
        f(
            "/2025/07/16/port-traffic-record-month/"
        ): ArticleStatus.OUT_OF_RANGE,  # the listing's 16 July is within a day
    }
    # The date kept for a later, wider backfill; news sitemap dates beat the page's own.
    assert dates[a("/news/budget-vote-postponed-again")] == datetime(2025, 7, 17, 10, 0, tzinfo=UTC)
    assert dates[a("/news/midnight-data-centre-announcement")] == datetime(2025, 6, 30, 23, 30, tzinfo=UTC)
    assert dates[outlets.wire.url("/wire/first-minute-of-july")] == datetime(2025, 6, 30, 23, 30, tzinfo=UTC)

    # What discovery must not even fetch.
    for path in Outlets.ATLAS_NEVER:
        assert outlets.atlas.hits(path) == 0, path
    assert outlets.front.hits("/news/page/4/") == 0
    assert outlets.front.hits("/2025/07/20/festival-opens-in-rabat/") == 0
    assert outlets.front.hits("/2025/06/28/june-budget-debate-ends/") == 0
    assert outlets.wire.hits("/wire/late-night-vote-result") == 0
    assert [r.path for r in outlets.wire.requests if r.path.startswith("/feed/")] == [
        "/feed/", "/feed/?paged=2", "/feed/?paged=3",
    ]  # fmt: skip

    atlas = by_name["Atlas"]
    assert (atlas.candidates, atlas.new, atlas.in_range, atlas.out_of_range, atlas.undated) == (7, 7, 4, 2, 1)
    assert (by_name["Front"].candidates, by_name["Front"].in_range, by_name["Front"].out_of_range) == (
        4,
        3,
        1,
    )
    assert (by_name["Wire"].candidates, by_name["Wire"].in_range) == (4, 4)

    with factory() as s:
        matched = set(s.execute(select(Article.url, Topic.name).join(Match.article).join(Match.topic)).all())
    assert matched == {
        (a("/2025/07/03/digital-strategy-presented/"), "Seghrouchni"),
        (a("/news/tangier-data-centre-project"), "Data centres"),
        (a("/news/midnight-data-centre-announcement"), "Data centres"),
        (f("/2025/07/14/seghrouchni-meets-founders/"), "Seghrouchni"),
        (outlets.wire.url("/wire/data-centre-tender-opens"), "Data centres"),
    }
    assert sum(s.matched for s in report.sources) == 5
    # Recorded, never sent: no --notify.
    assert count(factory, Alert) == 5 and count(factory, Alert, Alert.status != OutboxStatus.SKIPPED) == 0
    assert outlets.atlas.posts("/hook") == []

    before = snapshot(factory)
    page_hits = outlets.atlas.hits("/2025/07/03/digital-strategy-presented/")
    again = backfill(cfg)
    assert snapshot(factory) == before
    assert [s.new for s in again.sources] == [0, 0, 0]
    assert [s.fetched for s in again.sources] == [0, 0, 0]
    assert outlets.atlas.hits("/2025/07/03/digital-strategy-presented/") == page_hits
    assert sum(s.matched for s in again.sources) == 5  # still reported, from what is stored
    assert outlets.atlas.posts("/hook") == []


class StopAfter(Progress):
    """Cancels the backfill after ``n`` article pages, as Ctrl-C would."""

    def __init__(self, n: int) -> None:
        self.n, self.seen, self.task = n, 0, None

    def article(self, summary: SourceSummary) -> None:
        self.seen += 1
        if self.seen == self.n:
            self.task.cancel()


def test_an_interrupted_backfill_resumed_ends_as_an_uninterrupted_one(tmp_path, db_url, outlets):
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    reference = config(reference_dir, f"sqlite:///{reference_dir / 'ref.db'}", outlets)
    backfill(reference)
    expected = snapshot(db(reference))

    cfg = config(tmp_path, db_url, outlets)
    stop = StopAfter(4)

    async def interrupted():
        # One page at a time, so the interruption after 4 pages leaves the others pending.
        one_by_one = dataclasses.replace(FAST, article_concurrency=1)
        stop.task = asyncio.create_task(run_backfill(cfg, START, END, settings=one_by_one, progress=stop))
        with pytest.raises(asyncio.CancelledError):
            await stop.task

    asyncio.run(interrupted())
    factory = db(cfg)
    assert 4 <= count(factory, Article, Article.status != ArticleStatus.PENDING) < len(expected["articles"])
    pending = count(factory, Article, Article.status == ArticleStatus.PENDING)
    assert pending > 0
    # The daemon leaves a backfill's pending rows alone: processed live, they would be alerted.
    with factory() as s:
        for source_id in s.scalars(select(Source.id)):
            assert due_articles(s, source_id) == []

    backfill(cfg)
    assert snapshot(factory) == expected


def test_a_backfill_after_live_polling_adds_no_rows_and_sends_nothing(tmp_path, db_url, outlets):
    atlas = outlets.atlas
    paths = sorted(Outlets.ATLAS_IN) + [
        "/news/budget-vote-postponed-again", "/news/old-interview-updated", "/news/undated-opinion-piece",
    ]  # fmt: skip
    items = [{"title": p.strip("/").split("/")[-1], "link": atlas.url(p)} for p in paths]
    atlas.route("/feed.xml", Response(rss_feed(atlas.base, items), content_type="application/rss+xml"))
    cfg = config(tmp_path, db_url, outlets)
    cfg_atlas = cfg.model_copy(update={"sources": cfg.sources[:1]})

    reports, stats = once(cfg_atlas)
    assert reports[0].processed == 7
    factory = db(cfg)
    sent = len(atlas.posts("/hook"))
    assert sent == 6 and stats.sent == 6  # four pages name Seghrouchni, two a data centre
    before = snapshot(factory)

    report = backfill(cfg_atlas, notify=True)
    (summary,) = report.sources
    assert (summary.candidates, summary.new, summary.fetched) == (7, 0, 0)
    assert snapshot(factory) == before
    assert len(atlas.posts("/hook")) == sent and report.digests == []


def test_notify_sends_one_digest_per_channel_without_stories_already_alerted(tmp_path, db_url, outlets):
    atlas = outlets.atlas
    atlas.route("/hook2", Response("ok", content_type="text/plain"))
    digital = atlas.url("/2025/07/03/digital-strategy-presented/")
    items = [{"title": "Digital strategy presented to parliament", "link": digital,
              "published": datetime(2025, 7, 3, 8, 0, tzinfo=UTC)}]  # fmt: skip
    atlas.route("/feed.xml", Response(rss_feed(atlas.base, items), content_type="application/rss+xml"))
    channels = [
        {"name": "hook", "url": f"json://{atlas.base[7:]}/hook"},
        {"name": "hook2", "url": f"json://{atlas.base[7:]}/hook2"},
    ]
    cfg = config(tmp_path, db_url, outlets, channels)
    cfg_atlas = cfg.model_copy(update={"sources": cfg.sources[:1]})
    once(cfg_atlas)  # the digital strategy story is alerted live on both channels
    assert len(atlas.posts("/hook")) == 1 and len(atlas.posts("/hook2")) == 1

    report = backfill(cfg)  # without --notify: recorded, not sent
    assert report.digests == []
    once(cfg)  # the daemon's sender ignores them, and leaves the backfill rows alone
    assert len(atlas.posts("/hook")) == 1 and len(atlas.posts("/hook2")) == 1

    report = backfill(cfg, notify=True)
    assert sorted((d.channel, d.rows, d.messages, d.error) for d in report.digests) == [
        ("hook", 4, 1, None), ("hook2", 4, 1, None),
    ]  # fmt: skip
    assert len(atlas.posts("/hook")) == 2 and len(atlas.posts("/hook2")) == 2
    for path in ("/hook", "/hook2"):
        payload = atlas.posts(path)[-1].json()
        assert payload["title"].startswith("Digest: 4 stories in 2 topics")
        urls = {story["url"] for topic in payload["digest"]["topics"] for story in topic["stories"]}
        assert urls == {
            atlas.url("/news/tangier-data-centre-project"),
            atlas.url("/news/midnight-data-centre-announcement"),
            outlets.front.url("/2025/07/14/seghrouchni-meets-founders/"),
            outlets.wire.url("/wire/data-centre-tender-opens"),
        }
        assert digital not in json.dumps(payload)
        assert "Backfill" in payload["message"]
    factory = db(cfg)
    assert count(factory, Alert, Alert.status == OutboxStatus.SKIPPED) == 0
    assert count(factory, Alert, Alert.status == OutboxStatus.SENT) == 10

    again = backfill(cfg, notify=True)
    assert again.digests == [] and len(atlas.posts("/hook")) == 2


def test_topic_narrows_matching_and_a_wider_range_takes_back_set_aside_articles(tmp_path, db_url, outlets):
    cfg = config(tmp_path, db_url, outlets)
    backfill(cfg, topics=["Data centres"], sources=["Atlas"])
    factory = db(cfg)
    with factory() as s:
        topics = set(s.scalars(select(Topic.name).join(Match.topic)))
    assert topics == {"Data centres"}
    assert count(factory, Article, Article.source.has(Source.name != "Atlas")) == 0

    # A topic added later finds the stored articles of the range: matched again, nothing refetched.
    hits = outlets.atlas.hits("/2025/07/03/digital-strategy-presented/")
    backfill(cfg, topics=["Seghrouchni"], sources=["Atlas"])
    assert outlets.atlas.hits("/2025/07/03/digital-strategy-presented/") == hits
    with factory() as s:
        topics = set(s.execute(select(Article.url, Topic.name).join(Match.article).join(Match.topic)).all())
    assert (outlets.atlas.url("/2025/07/03/digital-strategy-presented/"), "Seghrouchni") in topics

    # To 20 July: the budget vote of 17 July, set aside so far, is taken back and stored.
    budget = outlets.atlas.url("/news/budget-vote-postponed-again")
    assert budget not in stored(factory)
    backfill(cfg, end=parse_user_date("2025-07-20", TZ, end_of_day=True), sources=["Atlas"])
    assert budget in stored(factory)
    assert outlets.atlas.url("/news/undated-opinion-piece") not in stored(factory)


def test_live_polling_takes_back_a_backfill_row_it_discovers(tmp_path, db_url, outlets):
    """A URL the backfill set aside (dated after its range) and later seen in the live feed is
    processed and alerted as live news."""
    cfg = config(tmp_path, db_url, outlets)
    backfill(cfg, sources=["Atlas"])
    budget = outlets.atlas.url("/news/budget-vote-postponed-again")
    factory = db(cfg)
    assert budget not in stored(factory)
    items = [{"title": "Budget vote postponed again", "link": budget}]
    outlets.atlas.route(
        "/feed.xml", Response(rss_feed(outlets.atlas.base, items), content_type="application/rss+xml")
    )
    once(cfg.model_copy(update={"sources": cfg.sources[:1]}))
    assert budget in stored(factory, Article.origin == "live")
    assert len(outlets.atlas.posts("/hook")) == 1


# --------------------------------------------------------------------------- discovery details


def run_discovery(cfg, name: str, start=START, end=END):
    async def go():
        async with open_runtime(cfg, FAST) as rt:
            return await discover_past(rt, cfg.source(name), start, end)

    return asyncio.run(go())


def test_feed_pages_stop_at_entries_older_than_the_range_and_at_repeated_pages(tmp_path, site):
    base = site.base

    def entries(day: int, month: int = 7) -> list[dict]:
        return [{"title": f"Story {month}-{day}", "link": f"{base}/s/{month}-{day}",
                 "published": datetime(2025, month, day, 9, tzinfo=UTC)}]  # fmt: skip

    pages = {None: entries(10) + entries(8), "2": entries(3) + entries(28, 6), "3": entries(20, 6)}
    site.route("/paged/", lambda req: Response(rss_feed(base, pages[req.path.partition("paged=")[2] or None]),
                                                content_type="application/rss+xml"))  # fmt: skip
    site.route(
        "/same/", Response(rss_feed(base, entries(12) + entries(11)), content_type="application/rss+xml")
    )
    sources = [{"name": "Paged", "feed": site.url("/paged/")}, {"name": "Same", "feed": site.url("/same/")}]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", sources, "127.0.0.1:9/hook")

    found = run_discovery(cfg, "Paged")
    assert found.method == "feed pages"
    assert sorted(c.url.rsplit("/", 1)[1] for c in found.candidates) == ["7-10", "7-3", "7-8"]
    assert [r.path for r in site.requests if r.path.startswith("/paged/")] == ["/paged/", "/paged/?paged=2"]

    found = run_discovery(cfg, "Same")  # a feed that ignores ?paged: page 2 repeats page 1
    assert len(found.candidates) == 2 and site.hits("/same/") == 2 and not found.errors


def test_a_news_sitemap_of_the_last_days_is_completed_by_the_listing(tmp_path, site):
    """A news sitemap holds two days: it does not reach back to --from, so the listing adds the rest."""
    base = site.base
    site.route("/robots.txt", Response(f"Sitemap: {base}/news.xml\n", content_type="text/plain"))
    news = (
        f"<urlset {NEWS_NS}>"
        + news_url(base, "/2025/07/15/budget-vote-tonight/", "2025-07-15T08:00:00+01:00", "Budget vote")
        + news_url(base, "/2025/07/14/ports-expand-capacity/", "2025-07-14T08:00:00+01:00", "Ports")
        + "</urlset>"
    )
    site.route("/news.xml", Response(news, content_type="application/xml"))
    items = [("2025-07-15", "/2025/07/15/budget-vote-tonight/", "Budget vote tonight"),
             ("2025-07-10", "/2025/07/10/tram-line-extended-again/", "Tram line extended"),
             ("2025-06-25", "/2025/06/25/june-story-about-trams/", "June story about trams")]  # fmt: skip
    site.route("/front/", Response(listing(items, "", "")))
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", [{"name": "F", "html": site.url("/front/")}],
                      "127.0.0.1:9/hook")  # fmt: skip
    found = run_discovery(cfg, "F")
    assert found.method == "sitemap + listing" and not found.errors
    assert sorted(c.url[len(base) :] for c in found.candidates) == [
        "/2025/07/10/tram-line-extended-again/",
        "/2025/07/14/ports-expand-capacity/",
        "/2025/07/15/budget-vote-tonight/",
    ]
    dated = {c.url[len(base) :]: c.published for c in found.candidates}
    assert dated["/2025/07/15/budget-vote-tonight/"] == datetime(
        2025, 7, 15, 7, 0, tzinfo=UTC
    )  # the news date
    assert dated["/2025/07/10/tram-line-extended-again/"] is None  # listing dates only filter


def test_a_source_without_sitemap_listing_or_paged_feed_reports_its_errors(tmp_path, site):
    sources = [{"name": "Broken", "html": site.url("/gone/")}, {"name": "Bad sitemap", "feed": site.url("/f/"),
               "sitemap": site.url("/sitemap.xml")}]  # fmt: skip
    site.route("/sitemap.xml", Response("<html><body>Soft 404</body></html>"))
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", sources, "127.0.0.1:9/hook")
    found = run_discovery(cfg, "Broken")
    assert found.method == "none" and found.candidates == []
    assert any("404" in e for e in found.errors), found.errors
    found = run_discovery(cfg, "Bad sitemap")
    assert any("not a sitemap" in e for e in found.errors), found.errors


# --------------------------------------------------------------------------- the command

RANGE = ("--from", "2025-07-01", "--to", "2025-07-15")  # START to END, as typed


def backfill_command(cfg, cwd, *args: str) -> subprocess.CompletedProcess:
    """``monitor backfill ARGS`` at the width a pipe or cron gets (80 columns)."""
    return cli("--config", cfg.path, "backfill", *args, cwd=cwd, columns=80)


def test_cli_backfill_prints_a_summary_and_rejects_bad_input(tmp_path, outlets):
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}", outlets)
    result = backfill_command(cfg, tmp_path, *RANGE)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for word in (
        "Atlas",
        "sitemap",
        "Front",
        "listing",
        "Wire",
        "feed pages",
        "out of",
        "undated",
        "No alerts",
    ):
        assert word in result.stdout, (word, result.stdout)
    atlas = next(line for line in lines if line.strip().startswith("Atlas"))
    assert atlas.split()[1:] == ["7", "7", "0", "4", "3", "2", "1", "0"]
    assert stored(db(cfg)) == outlets.expected()

    def fails(*args: str) -> str:
        result = backfill_command(cfg, tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stderr.strip()

    assert "did you mean 'Atlas'" in fails("--from", "2025-07-01", "--to", "2025-07-15", "--source", "Atlass")
    assert "did you mean 'Seghrouchni'" in fails(
        "--from", "2025-07-01", "--to", "2025-07-15", "--topic", "Segrouchni"
    )
    message = fails("--from", "2025-13-01", "--to", "2025-07-15")
    assert message.startswith("--from:") and len(message.splitlines()) == 1
    assert "after" in fails("--from", "2025-07-15", "--to", "2025-07-01")
    assert "--to" in fails("--from", "2025-07-01")


def test_a_row_live_polling_took_back_is_not_set_aside_by_a_backfill_in_flight(tmp_path, db_url, outlets):
    cfg = config(tmp_path, db_url, outlets)
    budget = outlets.atlas.url("/news/budget-vote-postponed-again")  # dated 17 July: after the range
    cand = Candidate(url=budget, fetch_url=budget)

    async def go():
        async with open_runtime(cfg, FAST) as rt:
            source_id = rt.source_ids["Atlas"]
            with transaction(rt.factory) as s:
                assert store_candidates(s, source_id, [cand], origin="backfill") == 1
            with rt.factory() as s:
                pending = load_pending(s, s.scalar(select(Article.id)))
            with transaction(rt.factory) as s:  # the daemon sees it in the live feed meanwhile
                assert store_candidates(s, source_id, [cand], origin="live") == 0
                assert [a.url for a in due_articles(s, source_id)] == [budget]
            return await process_article(rt, pending, notify=False, date_range=DateRange(START, END))

    assert asyncio.run(go()) == ("not pending", 0)
    with db(cfg)() as s:
        assert s.execute(select(Article.origin, Article.status)).one() == ("live", ArticleStatus.PENDING)


def test_ctrl_c_then_the_same_command_ends_as_an_uninterrupted_backfill(tmp_path, outlets):
    """SIGINT to the whole process group (as Ctrl-C in a terminal), while pages are slow."""
    slow = Response(article_page("Rail strike averted in the news", text_of("Rail strike averted")), delay=30)
    outlets.wire.route("/wire/rail-strike-averted", slow)
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", outlets)
    args = [sys.executable, "-m", "monitor.cli", "--config", cfg.path, "backfill", "--from", "2025-07-01",
            "--to", "2025-07-15"]  # fmt: skip
    proc = subprocess.Popen(
        args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and outlets.wire.hits("/wire/rail-strike-averted") == 0:
            time.sleep(0.1)
        assert outlets.wire.hits("/wire/rail-strike-averted") == 1
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    factory = db(cfg)
    rail = outlets.wire.url("/wire/rail-strike-averted")
    with factory() as s:
        assert s.scalar(select(Article.status).where(Article.url == rail)) == ArticleStatus.PENDING

    outlets.wire.route("/wire/rail-strike-averted", Response(article_page("Rail strike averted in the news",
                                                                          text_of("Rail strike averted"))))  # fmt: skip
    result = backfill_command(cfg, tmp_path, *RANGE)
    assert result.returncode == 0, result.stderr
    assert stored(factory) == outlets.expected()
    assert count(factory, Article, Article.status == ArticleStatus.PENDING) == 0


def test_a_failed_digest_keeps_its_rows_for_the_next_notify_run(tmp_path, outlets):
    atlas = outlets.atlas
    cfg = config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", outlets)
    atlas.route("/hook", Response("down", status=500, content_type="text/plain"))
    (outcome,) = backfill(cfg, sources=["Atlas"], notify=True).digests
    assert outcome.error and outcome.messages == 0 and outcome.rows == 3
    factory = db(cfg)
    assert count(factory, Alert, Alert.status == OutboxStatus.SKIPPED) == 3
    once(cfg.model_copy(update={"sources": cfg.sources[:1]}))  # the daemon does not pick them up
    assert len(atlas.posts("/hook")) == 1  # the failed digest only

    atlas.route("/hook", Response("ok", content_type="text/plain"))
    (outcome,) = backfill(cfg, sources=["Atlas"], notify=True).digests
    assert (outcome.error, outcome.messages, outcome.rows) == (None, 1, 3)
    assert len(atlas.posts("/hook")) == 2 and count(factory, Alert, Alert.status == OutboxStatus.SENT) == 3
