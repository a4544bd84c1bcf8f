"""End to end against real local servers: feeds, listing and article pages, a webhook receiver,
and the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.alerts.outbox import send_pending
from monitor.db.models import Alert, Article, ArticleStatus, Match, OutboxStatus, Source
from monitor.runtime import Settings
from tests.helpers import (
    DATACENTRE,
    SEGHROUCHNI,
    cli,
    count,
    db,
    make_config,
    once,
    paragraphs,
    serve_outlet,
)
from tests.servers import Response
from tests.sitegen import article_page, listing_page, rss_feed


def test_new_articles_alerted_once_and_teasers_ignored(tmp_path, db_url, site):
    serve_outlet(site)
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], site.base[7:] + "/hook"
    )
    site.route("/hook", Response("ok", content_type="text/plain"))

    reports, stats = once(cfg)
    assert [r.ok for r in reports] == [True]
    assert reports[0].new == 3 and reports[0].processed == 3
    posts = site.posts("/hook")
    assert len(posts) == 2 and stats.sent == 2
    bodies = [p.json() for p in posts]
    titles = sorted(b["title"] for b in bodies)
    assert titles[0].startswith("[Data centres]") and "Tangier to host a new data centre" in titles[0]
    assert titles[1].startswith("[Seghrouchni]") and "Digital strategy" in titles[1]
    seg = next(b for b in bodies if b["title"].startswith("[Seghrouchni]"))
    assert "/2026/11/digital-strategy-presented/" in seg["message"] and "Seghrouchni" in seg["message"]

    factory = db(cfg)
    with factory() as s:
        rows = s.execute(select(Article.title, Article.status, Article.date_source)).all()
        assert len(rows) == 3 and {r.status for r in rows} == {ArticleStatus.DONE}
        assert {r.date_source for r in rows} == {"feed"}
        football = s.scalar(select(Article).where(Article.url.like("%football%")))
        assert "stadium in Casablanca" in football.text and "Seghrouchni" not in football.text
        assert s.scalar(select(func.count()).select_from(Match).where(Match.article_id == football.id)) == 0

    # A second pass finds nothing new and alerts nothing.
    feed_hits = site.hits("/feed.xml")
    reports, stats = once(cfg)
    assert site.hits("/feed.xml") == feed_hits + 1
    assert reports[0].not_modified and reports[0].new == 0
    assert len(site.posts("/hook")) == 2 and stats.sent == 0
    assert count(factory, Alert, Alert.status == OutboxStatus.SENT) == 2


def test_utm_link_and_canonical_url_are_one_article(tmp_path, db_url, site):
    serve_outlet(site)
    base = site.base
    feed = rss_feed(
        base,
        [{"title": "Digital strategy", "guid": "post-101",
          "link": f"{base}/2026/11/digital-strategy-presented/?utm_source=rss&utm_medium=feed&utm_campaign=x"}],
    )  # fmt: skip
    site.route("/utm.xml", Response(feed, content_type="application/rss+xml"))
    site.route(
        "/news/",
        Response(listing_page([("/2026/11/digital-strategy-presented/", "Digital strategy presented")])),
    )
    sources = [
        {"name": "Atlas feed", "feed": site.url("/utm.xml")},
        {"name": "Atlas front", "html": site.url("/news/")},
    ]
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(tmp_path, db_url, sources, base[7:] + "/hook")

    reports, _ = once(cfg)
    assert all(r.ok for r in reports), [r.error for r in reports]
    factory = db(cfg)
    assert count(factory, Article) == 1
    assert site.hits("/2026/11/digital-strategy-presented/") == 1
    assert len(site.posts("/hook")) == 1


def test_broken_sources_are_reported_and_do_not_stop_the_others(tmp_path, db_url, site):
    serve_outlet(site)
    site.route("/fake-feed.xml", Response(article_page("Not a feed", paragraphs())))
    site.route("/hook", Response("ok", content_type="text/plain"))
    sources = [
        {"name": "Dead host", "feed": "http://127.0.0.1:9/feed.xml"},
        {"name": "Gone feed", "feed": site.url("/missing.xml")},
        {"name": "Fake feed", "feed": site.url("/fake-feed.xml")},
        {"name": "Atlas", "feed": site.url("/feed.xml")},
    ]
    cfg = make_config(tmp_path, db_url, sources, site.base[7:] + "/hook")
    reports, _ = once(cfg)
    by_name = {r.source: r for r in reports}
    assert not by_name["Dead host"].ok and "refused" in by_name["Dead host"].error.lower()
    assert not by_name["Gone feed"].ok and "404" in by_name["Gone feed"].error
    assert not by_name["Fake feed"].ok and "feed" in by_name["Fake feed"].error.lower()
    assert by_name["Atlas"].ok and by_name["Atlas"].processed == 3
    assert len(site.posts("/hook")) == 2
    factory = db(cfg)
    with factory() as s:
        errors = dict(s.execute(select(Source.name, Source.last_error)).all())
        failures = dict(s.execute(select(Source.name, Source.consecutive_failures)).all())
    assert errors["Atlas"] is None and failures["Atlas"] == 0
    assert errors["Gone feed"] and failures["Gone feed"] == 1


def test_article_page_503_once_is_processed_on_a_later_poll(tmp_path, db_url, site):
    serve_outlet(site)
    calls = {"n": 0}
    good = article_page("Digital strategy presented to parliament", paragraphs(SEGHROUCHNI))

    def flaky(_req):
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("busy", status=503, content_type="text/plain", headers={"Retry-After": "0"})
        return Response(good)

    site.route("/2026/11/digital-strategy-presented/", flaky)
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], site.base[7:] + "/hook"
    )

    reports, _ = once(cfg)
    assert reports[0].retrying == 1 and reports[0].processed == 2
    assert [p.json()["title"][:14] for p in site.posts("/hook")] == ["[Data centres]"]
    factory = db(cfg)
    with factory() as s:
        pending = s.scalar(select(Article).where(Article.status == ArticleStatus.PENDING))
        assert pending.attempts == 1 and "503" in pending.last_error

    time.sleep(0.3)
    reports, _ = once(cfg)
    assert reports[0].processed == 1 and reports[0].retrying == 0
    titles = sorted(p.json()["title"][:14] for p in site.posts("/hook"))
    assert titles == ["[Data centres]", "[Seghrouchni] "]
    assert count(factory, Article, Article.status == ArticleStatus.DONE) == 3


def test_article_that_keeps_failing_is_matched_on_its_feed_entry(tmp_path, db_url, site):
    serve_outlet(site)
    site.route(
        "/2026/11/tangier-data-centre-project/", Response("oops", status=500, content_type="text/plain")
    )
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], site.base[7:] + "/hook"
    )
    settings = Settings(page_retry_base=0.01, page_retry_max=0.02, max_page_attempts=3, workers=2, host_delay=0)
    for _ in range(4):
        once(cfg, settings)
        time.sleep(0.05)
    assert site.hits("/2026/11/tangier-data-centre-project/") == 3
    factory = db(cfg)
    with factory() as s:
        row = s.scalar(select(Article).where(Article.url.like("%tangier%")))
    assert row.status == ArticleStatus.DONE and row.attempts == 3
    assert "500" in row.last_error and "stored from the feed" in row.last_error
    titles = sorted(p.json()["title"] for p in site.posts("/hook"))
    assert len(titles) == 2 and "Tangier to host a new data centre" in titles[0]


def test_article_that_keeps_failing_without_feed_text_is_recorded_failed(tmp_path, db_url, site):
    base = site.base
    site.route("/2026/11/lost-story/", Response("gone", status=503, content_type="text/plain"))
    site.route("/bare.xml", Response(rss_feed(base, [{"title": "", "link": f"{base}/2026/11/lost-story/"}]),
                                     content_type="application/rss+xml"))  # fmt: skip
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/bare.xml")}], base[7:] + "/hook"
    )
    settings = Settings(page_retry_base=0.01, page_retry_max=0.02, max_page_attempts=2, workers=2, host_delay=0)
    for _ in range(3):
        reports, _ = once(cfg, settings)
        time.sleep(0.05)
    with db(cfg)() as s:
        row = s.scalar(select(Article))
    assert row.status == "failed" and row.attempts == 2 and "503" in row.last_error
    assert site.posts("/hook") == []


def test_channel_down_keeps_alerts_then_delivers_once(tmp_path, db_url, site):
    serve_outlet(site)
    state = {"up": False}

    def hook(_req):
        return Response(
            "ok" if state["up"] else "down", status=200 if state["up"] else 500, content_type="text/plain"
        )

    site.route("/hook", hook)
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], site.base[7:] + "/hook"
    )
    _, stats = once(cfg)
    assert stats.sent == 0 and stats.failed == 2
    factory = db(cfg)
    assert count(factory, Alert, Alert.status == OutboxStatus.SENT) == 0
    assert count(factory, Alert) == 2
    attempts_while_down = len(site.posts("/hook"))

    state["up"] = True
    later = datetime.now(UTC) + timedelta(hours=2)
    stats = send_pending(factory, cfg, now=later)
    assert stats.sent == 2
    assert send_pending(factory, cfg, now=later + timedelta(hours=1)).sent == 0
    delivered = site.posts("/hook")[attempts_while_down:]
    assert len(delivered) == 2
    assert count(factory, Alert, Alert.status == OutboxStatus.SENT) == 2


def test_run_once_cli_reports_unreachable_sources_and_exits_0(tmp_path, site):
    serve_outlet(site)
    site.route("/hook", Response("ok", content_type="text/plain"))
    sources = [
        {"name": "Dead host", "feed": "http://127.0.0.1:9/feed.xml"},
        {"name": "Atlas", "feed": site.url("/feed.xml")},
    ]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", sources, site.base[7:] + "/hook")
    proc = cli("--config", cfg.path, "run", "--once", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Dead host" in proc.stderr and "refused" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    assert "Atlas" in proc.stdout and "2 sent" in proc.stdout

    proc = cli("--config", cfg.path, "matches", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert sorted(r["topic"] for r in rows) == ["Data centres", "Seghrouchni"]
    seg = next(r for r in rows if r["topic"] == "Seghrouchni")
    assert seg["source"] == "Atlas" and "Seghrouchni" in seg["terms"]
    assert seg["published"].startswith("2026-11-20T09:00:00+01:00")


def test_same_article_under_two_urls_is_alerted_once(tmp_path, db_url, site):
    """A feed links ?p=101, the front page links the slug; the page names the slug as canonical."""
    base = site.base
    slug = "/2026/11/digital-strategy-presented/"
    page = article_page("Digital strategy presented", paragraphs(SEGHROUCHNI), canonical=base + slug)
    site.route(slug, Response(page))
    site.route("/?p=101", Response(page))
    site.route("/short.xml", Response(rss_feed(base, [{"title": "Digital", "link": f"{base}/?p=101"}]),
                                      content_type="application/rss+xml"))  # fmt: skip
    site.route("/news/", Response(listing_page([(slug, "Digital strategy presented to parliament")])))
    site.route("/hook", Response("ok", content_type="text/plain"))
    sources = [
        {"name": "Atlas feed", "feed": site.url("/short.xml")},
        {"name": "Atlas front", "html": site.url("/news/")},
    ]
    cfg = make_config(tmp_path, db_url, sources, base[7:] + "/hook")
    once(cfg)
    factory = db(cfg)
    with factory() as s:
        statuses = sorted(s.scalars(select(Article.status)))
    assert statuses == ["done", "duplicate"]
    assert len(site.posts("/hook")) == 1


def test_home_page_canonical_does_not_merge_articles(tmp_path, db_url, site):
    base = site.base
    for i, name in enumerate(["first-story-about-tangier", "second-story-about-rabat"]):
        site.route(f"/2026/11/{name}/", Response(article_page(f"Data centre story {i}", paragraphs(DATACENTRE),
                                                             canonical=base + "/")))  # fmt: skip
    feed = rss_feed(base, [{"title": f"S{i}", "link": f"{base}/2026/11/{n}/"}
                           for i, n in enumerate(["first-story-about-tangier", "second-story-about-rabat"])])  # fmt: skip
    site.route("/feed.xml", Response(feed, content_type="application/rss+xml"))
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], base[7:] + "/hook"
    )
    once(cfg)
    assert count(db(cfg), Article, Article.status == ArticleStatus.DONE) == 2
    assert len(site.posts("/hook")) == 2


def test_articles_wait_while_their_site_is_down(tmp_path, db_url, site):
    serve_outlet(site)
    feed = site.routes["/feed.xml"]
    site.route(
        "/2026/11/digital-strategy-presented/", Response("busy", status=503, content_type="text/plain")
    )
    site.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], site.base[7:] + "/hook"
    )
    once(cfg)
    assert site.hits("/2026/11/digital-strategy-presented/") == 1

    # The whole site is down: the feed answers 503, the pending article is not tried (no attempt spent).
    site.route("/feed.xml", Response("down", status=503, content_type="text/plain"))
    time.sleep(0.3)
    reports, _ = once(cfg)
    assert not reports[0].ok and reports[0].retrying == 1
    assert site.hits("/2026/11/digital-strategy-presented/") == 1
    with db(cfg)() as s:
        assert s.scalar(select(Article.attempts).where(Article.url.like("%digital%"))) == 1

    # Back up: the article is processed and alerted.
    site.route("/feed.xml", feed)
    site.route(
        "/2026/11/digital-strategy-presented/",
        Response(article_page("Digital strategy presented to parliament", paragraphs(SEGHROUCHNI))),
    )
    reports, _ = once(cfg)
    assert reports[0].ok and reports[0].processed == 1
    assert sum(p.json()["title"].startswith("[Seghrouchni]") for p in site.posts("/hook")) == 1
