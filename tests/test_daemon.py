"""The daemon and its polling, end to end against real local servers: conditional GET, backoff and
Retry-After, robots.txt, 410 Gone, per-host politeness through the pipeline, signals (SIGTERM,
SIGHUP, --watch-config), the /healthz and /metrics endpoint, `monitor status`, JSON logs and
operator alerts.

Timing checks are lower bounds (a slow machine only makes gaps longer), except the few "it did
happen within N seconds" waits, whose bounds are generous.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from monitor.db.models import Alert, Article, ArticleStatus, OutboxStatus, Source
from monitor.db.session import make_engine, make_sessionmaker, transaction
from monitor.extract import Extractor
from monitor.pipeline import RETRY_AFTER_MAX, poll, poll_source
from monitor.runtime import Settings, open_runtime
from monitor.scheduler import OperatorAlerts, due_sources, run_daemon
from tests.helpers import (
    DATACENTRE,
    FAST,
    SEGHROUCHNI,
    Daemon,
    InFlight,
    cli,
    gaps,
    hook,
    http_get,
    make_config,
    once,
    paragraphs,
    serve_feed,
    serve_outlet,
    story,
    wait_for,
)
from tests.servers import Response, free_port
from tests.sitegen import article_page, listing_page, rss_feed

RSS = "application/rss+xml"


# --------------------------------------------------------------------------- helpers


def conditional(body: bytes, *, etag: str | None = None, last_modified: str | None = None):
    """A route answering 304 when the request's validator matches, else the body with it."""
    headers = {"ETag": etag} if etag else {"Last-Modified": last_modified}

    def handler(req):
        if (etag and req.headers.get("if-none-match") == etag) or (
            last_modified and req.headers.get("if-modified-since") == last_modified
        ):
            return Response(b"", status=304, headers=headers)
        return Response(body, content_type=RSS, headers=headers)

    return handler


def source_row(cfg, name: str) -> Source:
    engine = make_engine(cfg.database)
    try:
        with make_sessionmaker(engine)() as s:
            return s.scalar(select(Source).where(Source.name == name))
    finally:
        engine.dispose()


def rows(cfg, *columns, where=()):
    engine = make_engine(cfg.database)
    try:
        with make_sessionmaker(engine)() as s:
            return s.execute(select(*columns).where(*where)).all()
    finally:
        engine.dispose()


def in_runtime(cfg, work, settings: Settings = FAST):
    """Run ``await work(rt)`` inside a fresh runtime."""

    async def go():
        async with open_runtime(cfg, settings) as rt:
            return await work(rt)

    return asyncio.run(go())


class Spy:
    """Counts feed parsing, discovery and extraction calls made in this process."""

    def __init__(self, monkeypatch) -> None:
        self.parsed = self.discovered = self.extracted = 0
        real_parse, real_discover, real_extract = poll.parse_feed, poll.discover, Extractor.extract
        spy = self

        def parse_feed(*args, **kwargs):
            spy.parsed += 1
            return real_parse(*args, **kwargs)

        def discover(*args, **kwargs):
            spy.discovered += 1
            return real_discover(*args, **kwargs)

        async def extract(self, *args, **kwargs):
            spy.extracted += 1
            return await real_extract(self, *args, **kwargs)

        monkeypatch.setattr(poll, "parse_feed", parse_feed)
        monkeypatch.setattr(poll, "discover", discover)
        monkeypatch.setattr(Extractor, "extract", extract)


# --------------------------------------------------------------------------- conditional GET


def test_unchanged_feeds_are_neither_parsed_nor_extracted(tmp_path, db_url, site, monkeypatch):
    spy = Spy(monkeypatch)
    etag_items = [story(site, "/e/2026/11/etag-story-one/", "Etag story one", SEGHROUCHNI),
                  story(site, "/e/2026/11/etag-story-two/", "Etag story two")]  # fmt: skip
    lm_items = [story(site, "/l/2026/11/modified-story-one/", "Modified story one")]
    same_items = [story(site, "/s/2026/11/same-bytes-story/", "Same bytes story", DATACENTRE)]
    site.route("/etag.xml", conditional(rss_feed(site.base, etag_items).encode(), etag='"v1"'))
    last_modified = "Fri, 20 Nov 2026 08:00:00 GMT"
    site.route("/lm.xml", conditional(rss_feed(site.base, lm_items).encode(), last_modified=last_modified))
    serve_feed(site, "/same.xml", same_items)  # no validators: the same 200 every time
    sources = [
        {"name": "Etag", "feed": site.url("/etag.xml")},
        {"name": "Modified", "feed": site.url("/lm.xml")},
        {"name": "Same", "feed": site.url("/same.xml")},
    ]
    cfg = make_config(tmp_path, db_url, sources, hook(site))

    reports, _ = once(cfg)
    assert [(r.ok, r.not_modified, r.processed) for r in reports] == [(True, False, 2), (True, False, 1),
                                                                       (True, False, 1)]  # fmt: skip
    assert (spy.parsed, spy.discovered, spy.extracted) == (3, 3, 4)
    pages = {p: site.hits(p) for p in ("/e/2026/11/etag-story-one/", "/l/2026/11/modified-story-one/",
                                       "/s/2026/11/same-bytes-story/")}  # fmt: skip
    assert set(pages.values()) == {1}
    first = {name: source_row(cfg, name) for name in ("Etag", "Modified", "Same")}
    assert first["Etag"].etag == '"v1"' and first["Modified"].last_modified == last_modified
    assert first["Same"].content_hash and first["Same"].etag is None

    reports, _ = once(cfg)
    assert [(r.ok, r.not_modified, r.new) for r in reports] == [(True, True, 0)] * 3
    assert (spy.parsed, spy.discovered, spy.extracted) == (3, 3, 4), "an unchanged feed was parsed again"
    assert {p: site.hits(p) for p in pages} == pages, "an article page was requested again"
    etag_requests = [r for r in site.requests if r.path == "/etag.xml"]
    assert etag_requests[-1].headers.get("if-none-match") == '"v1"'
    lm_requests = [r for r in site.requests if r.path == "/lm.xml"]
    assert lm_requests[-1].headers.get("if-modified-since") == last_modified
    for name, before in first.items():  # validators kept, success recorded
        after = source_row(cfg, name)
        assert (after.etag, after.last_modified, after.content_hash) == (
            before.etag,
            before.last_modified,
            before.content_hash,
        )
        assert after.last_success_at > before.last_success_at and after.consecutive_failures == 0
    assert len(site.posts("/hook")) == 2


def test_a_304_with_new_validators_keeps_them(tmp_path, db_url, site):
    """Some servers rotate the ETag on a 304: the next request must send the new one."""
    body = rss_feed(site.base, [story(site, "/2026/11/rotating-etag-story/", "Rotating")]).encode()
    state = {"etag": '"a"'}

    def rotating(req):
        if req.headers.get("if-none-match") == state["etag"]:
            state["etag"] = '"b"' if state["etag"] == '"a"' else '"a"'
            return Response(b"", status=304, headers={"ETag": state["etag"]})
        return Response(body, content_type=RSS, headers={"ETag": state["etag"]})

    site.route("/feed.xml", rotating)
    cfg = make_config(tmp_path, db_url, [{"name": "Rot", "feed": site.url("/feed.xml")}], hook(site))
    once(cfg)
    once(cfg)  # 304, new ETag "b"
    assert source_row(cfg, "Rot").etag == '"b"'
    reports, _ = once(cfg)
    assert reports[0].not_modified
    assert [r.headers.get("if-none-match") for r in site.requests if r.path == "/feed.xml"] == [
        None,
        '"a"',
        '"b"',
    ]


# --------------------------------------------------------------------------- failures, Retry-After, backoff


def _poll_delay(row: Source) -> float:
    return (row.next_poll_at - row.last_polled_at).total_seconds()


def test_retry_after_on_a_feed_sets_its_next_poll(tmp_path, db_url, site):
    site.route("/busy.xml", Response("busy", status=503, content_type="text/plain",
                                     headers={"Retry-After": "120"}))  # fmt: skip
    site.route("/slow.xml", Response("slow down", status=429, content_type="text/plain",
                                     headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}))  # fmt: skip
    sources = [
        {"name": "Busy", "feed": site.url("/busy.xml"), "interval": "2s"},
        {"name": "Slow", "feed": site.url("/slow.xml"), "interval": "2s"},
    ]
    cfg = make_config(tmp_path, db_url, sources, hook(site))
    reports, _ = once(cfg)
    assert not reports[0].ok and "503" in reports[0].error
    busy = source_row(cfg, "Busy")
    assert busy.consecutive_failures == 1 and "503" in busy.last_error
    assert _poll_delay(busy) >= 120  # not the 2 s interval, not a short backoff
    slow = source_row(cfg, "Slow")
    assert "429" in slow.last_error
    assert _poll_delay(slow) == RETRY_AFTER_MAX  # a date in 2100, capped: the source is not given up silently

    async def due(rt):
        return due_sources(rt), due_sources(rt, datetime.now(UTC) + timedelta(seconds=125))

    now_due, later_due = in_runtime(cfg, due)
    assert now_due == [] and later_due == ["Busy"]


def test_a_far_off_retry_after_on_an_article_page_is_capped(tmp_path, db_url, site):
    page = "/2026/11/busy-until-2100/"
    site.route(page, Response("busy", status=503, content_type="text/plain",
                              headers={"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}))  # fmt: skip
    serve_feed(site, "/feed.xml", [{"title": "Busy", "link": site.url(page)}])
    site.route("/robots.txt", Response("", status=404, content_type="text/plain"))
    cfg = make_config(tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], hook(site))
    once(cfg, Settings(workers=1, page_retry_base=10, page_retry_max=60))
    ((status, next_fetch),) = rows(cfg, Article.status, Article.next_fetch_at)
    assert status == ArticleStatus.PENDING
    assert timedelta(hours=5) < next_fetch - datetime.now(UTC) <= timedelta(seconds=RETRY_AFTER_MAX)


def test_a_failing_source_backs_off_exponentially_then_recovers(tmp_path, db_url, site):
    site.route("/feed.xml", Response("oops", status=500, content_type="text/plain"))
    cfg = make_config(tmp_path, db_url, [{"name": "Flaky", "feed": site.url("/feed.xml"), "interval": "60s"}],
                      hook(site))  # fmt: skip
    source = cfg.source("Flaky")

    async def fail_four_times(rt):
        states = []
        for _ in range(4):
            report = await poll_source(rt, source)
            assert not report.ok and "500" in report.error
            row = source_row(cfg, "Flaky")
            states.append((row.consecutive_failures, _poll_delay(row)))
        return states

    states = in_runtime(cfg, fail_four_times)
    assert [n for n, _ in states] == [1, 2, 3, 4]
    delays = [d for _, d in states]
    assert delays[0] >= 60
    for before, after in zip(delays, delays[1:], strict=False):
        assert after >= 1.5 * before, delays  # doubling, give or take the ±10 % jitter

    serve_feed(site, "/feed.xml", [story(site, "/2026/11/back-again-story/", "Back again", SEGHROUCHNI)])
    reports, _ = once(cfg)
    assert reports[0].ok and reports[0].processed == 1
    row = source_row(cfg, "Flaky")
    assert row.consecutive_failures == 0 and row.last_error is None
    assert row.last_success_at == row.last_polled_at
    assert 54 <= _poll_delay(row) <= 66  # one interval, ±10 % jitter
    assert len(site.posts("/hook")) == 1


# --------------------------------------------------------------------------- robots.txt

ROBOTS = """User-agent: *
Disallow: /news
Disallow: /private/
Disallow: /feeds/
"""


def test_robots_txt_is_obeyed_for_html_pages(tmp_path, db_url, site):
    site.route("/robots.txt", Response(ROBOTS, content_type="text/plain"))
    # An HTML source whose listing robots.txt disallows.
    site.route(
        "/news/", Response(listing_page([("/2026/11/digital-strategy-presented/", "Digital strategy")]))
    )
    # The same listing with `robots: false`; its article page is under a disallowed path too.
    front = [("/news/2026/11/tangier-data-centre-project/", "Tangier to host a new data centre")]
    site.route("/front-page/", Response(listing_page(front)))
    site.route("/news/2026/11/tangier-data-centre-project/",
               Response(article_page("Tangier to host a new data centre", paragraphs(DATACENTRE))))  # fmt: skip
    # A feed (feeds are exempt) linking a disallowed article page: its feed entry is used instead.
    private = "/private/2026/11/seghrouchni-campus/"
    site.route(private, Response(article_page("Never fetched", paragraphs(SEGHROUCHNI))))
    serve_feed(site, "/feeds/main.xml", [{
        "title": "Seghrouchni opens an AI campus", "link": site.url(private),
        "summary": "The minister opened a campus for artificial intelligence in Rabat on Monday."}])  # fmt: skip
    sources = [
        {"name": "Front", "html": site.url("/news/"), "links": "h3.card-title a"},
        {"name": "Open front", "html": site.url("/front-page/"), "links": "h3.card-title a", "robots": False},
        {"name": "Feed", "feed": site.url("/feeds/main.xml")},
    ]
    cfg = make_config(tmp_path, db_url, sources, hook(site))
    reports = {r.source: r for r in once(cfg)[0]}

    assert site.hits("/news/") == 0
    front_report = reports["Front"]
    assert (
        not front_report.ok and "robots.txt" in front_report.error and "robots: false" in front_report.error
    )
    row = source_row(cfg, "Front")
    assert row.consecutive_failures == 1 and "robots.txt" in row.last_error

    assert reports["Open front"].ok and reports["Open front"].processed == 1
    assert site.hits("/front-page/") == 1 and site.hits("/news/2026/11/tangier-data-centre-project/") == 1

    assert reports["Feed"].ok and site.hits("/feeds/main.xml") == 1
    assert site.hits(private) == 0
    ((status, title, error),) = rows(cfg, Article.status, Article.title, Article.last_error,
                                     where=[Article.url.like("%seghrouchni-campus%")])  # fmt: skip
    assert status == ArticleStatus.DONE and title == "Seghrouchni opens an AI campus"
    assert "robots.txt" in error and "feed" in error
    titles = sorted(p.json()["title"] for p in site.posts("/hook"))
    assert len(titles) == 2
    assert titles[0].startswith("[Data centres]") and "Seghrouchni opens an AI campus" in titles[1]


def test_pending_articles_are_not_held_because_robots_now_refuses_the_listing(tmp_path, db_url, site):
    """Robots.txt refusing a listing says nothing about the site being down: the source's pending
    articles (allowed pages) are still processed."""
    path = "/2026/11/digital-strategy-presented/"
    site.route("/news/", Response(listing_page([(path, "Digital strategy presented")])))
    site.route(path, Response("busy", status=503, content_type="text/plain"))
    sources = [{"name": "Front", "html": site.url("/news/"), "links": "h3.card-title a"}]
    cfg = make_config(tmp_path, db_url, sources, hook(site))
    reports, _ = once(cfg)
    assert reports[0].ok and reports[0].retrying == 1

    site.route("/robots.txt", Response("User-agent: *\nDisallow: /news/\n", content_type="text/plain"))
    site.route(path, Response(article_page("Digital strategy presented", paragraphs(SEGHROUCHNI))))
    time.sleep(0.2)  # the page's retry time (FAST settings)
    reports, _ = once(cfg)
    assert not reports[0].ok and "robots.txt" in reports[0].error
    assert site.hits("/news/") == 1 and reports[0].processed == 1
    assert len(site.posts("/hook")) == 1


# --------------------------------------------------------------------------- 410 Gone


def test_410_disables_a_source_until_its_url_changes(tmp_path, db_url, site):
    site.route("/old.xml", Response("gone", status=410, content_type="text/plain"))
    serve_feed(site, "/alive.xml", [])
    sources = [
        {"name": "Moved", "feed": site.url("/old.xml"), "interval": "1s"},
        {"name": "Alive", "feed": site.url("/alive.xml"), "interval": "1s"},
    ]
    cfg = make_config(tmp_path, db_url, sources, hook(site))
    reports, _ = once(cfg)
    assert reports[0].disabled and not reports[0].ok
    assert "410" in reports[0].error and "config" in reports[0].error
    row = source_row(cfg, "Moved")
    assert row.disabled_reason and "410 Gone" in row.disabled_reason and row.disabled_at is not None

    reports, _ = once(cfg)  # run --once skips it
    assert reports[0].disabled and site.hits("/old.xml") == 1

    async def due_later(rt):
        return due_sources(rt, datetime.now(UTC) + timedelta(days=1))

    assert in_runtime(cfg, due_later) == ["Alive"]
    alive_before = site.hits("/alive.xml")
    run_daemon_for(cfg, 2.5)
    assert site.hits("/old.xml") == 1 and site.hits("/alive.xml") > alive_before

    serve_feed(site, "/new.xml", [story(site, "/2026/11/moved-story/", "Moved story", SEGHROUCHNI)])
    sources[0]["feed"] = site.url("/new.xml")
    cfg = make_config(tmp_path, db_url, sources, hook(site))
    reports, _ = once(cfg)
    assert reports[0].ok and not reports[0].disabled and reports[0].processed == 1
    row = source_row(cfg, "Moved")
    assert row.disabled_reason is None and row.url == site.url("/new.xml")


def run_daemon_for(cfg, seconds: float, settings: Settings = FAST, **kwargs) -> None:
    """The daemon in this process with a fast tick, stopped after ``seconds``."""

    async def go():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await run_daemon(cfg, settings, tick=0.2, send_every=0.5, stop_event=stop, **kwargs)

    asyncio.run(go())


# --------------------------------------------------------------------------- politeness through the pipeline


def _two_feeds_one_host(site, route: InFlight, n: int, *, time_feeds: bool = True) -> list[dict]:
    """Two feeds of ``n`` articles each on one host, pages served by ``route`` (feeds on its clock too
    with ``time_feeds``)."""
    sources = []
    for feed in ("a", "b"):
        items = []
        for i in range(n):
            path = f"/{feed}/2026/11/story-number-{i}/"
            site.route(path, route)
            items.append({"title": f"Story {feed}{i}", "link": site.url(path)})
        body = rss_feed(site.base, items)
        site.route(
            f"/{feed}.xml",
            InFlight(Response(body, content_type=RSS), starts=route.starts if time_feeds else None),
        )
        sources.append({"name": f"Outlet {feed}", "feed": site.url(f"/{feed}.xml")})
    return sources


def test_a_host_sees_at_most_per_host_requests_from_all_its_sources(tmp_path, db_url, site):
    route = InFlight(Response(article_page("Some story", paragraphs())), hold=0.15)
    sources = _two_feeds_one_host(site, route, 5)
    cfg = make_config(tmp_path, db_url, sources, hook(site), fetch={"per_host": 2, "delay": 0})
    reports, _ = once(cfg, Settings(workers=2))
    assert [r.processed for r in reports] == [5, 5]
    assert len(route.starts) == 12 and route.peak == 2


def test_a_host_is_never_asked_faster_than_its_delay(tmp_path, db_url, site):
    route = InFlight(Response(article_page("Some story", paragraphs())))
    sources = _two_feeds_one_host(site, route, 3)
    robots = InFlight(Response("gone", status=404, content_type="text/plain"), starts=route.starts)
    site.route("/robots.txt", robots)
    cfg = make_config(tmp_path, db_url, sources, hook(site), fetch={"per_host": 4, "delay": "300ms"})
    reports, _ = once(cfg, Settings(workers=2))
    assert [r.processed for r in reports] == [3, 3]
    assert len(route.starts) == 2 + 1 + 6  # feeds, robots.txt, pages: one host, one pace
    assert min(gaps(route.starts)) >= 0.25


def test_crawl_delay_slows_a_host_down(tmp_path, db_url, site):
    site.route("/robots.txt", Response("User-agent: *\nCrawl-delay: 0.4\n", content_type="text/plain"))
    route = InFlight(Response(article_page("Some story", paragraphs())))
    sources = _two_feeds_one_host(site, route, 2, time_feeds=False)  # fetched before robots.txt is known
    cfg = make_config(tmp_path, db_url, sources, hook(site))  # fetch.delay 0
    reports, _ = once(cfg, Settings(workers=2))
    assert [r.processed for r in reports] == [2, 2]
    assert min(gaps(route.starts)) >= 0.35


def test_retry_after_on_an_article_page_holds_the_host_and_the_article(tmp_path, db_url, site):
    page = Response(article_page("Some story", paragraphs(SEGHROUCHNI)))
    after = InFlight(page)
    refused: list[tuple[float, datetime]] = []

    def limited(req):
        if not refused:
            refused.append((time.monotonic(), datetime.now(UTC)))
            return Response("slow down", status=429, content_type="text/plain", headers={"Retry-After": "1"})
        return after(req)

    site.route("/2026/11/limited-story/", limited)
    site.route("/2026/11/other-story/", after)
    serve_feed(site, "/feed.xml", [{"title": "Limited", "link": site.url("/2026/11/limited-story/")},
                                   {"title": "Other", "link": site.url("/2026/11/other-story/")}])  # fmt: skip
    cfg = make_config(tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml")}], hook(site),
                      fetch={"per_host": 1, "delay": 0})  # fmt: skip
    settings = Settings(workers=2, page_retry_base=0.01, page_retry_max=0.02)
    reports, _ = once(cfg, settings)
    assert reports[0].retrying == 1 and reports[0].processed == 1
    ((refused_at, refused_wall),) = refused
    assert len(after.starts) == 1 and after.starts[0] - refused_at >= 0.9  # the host was paused
    ((next_fetch, error),) = rows(cfg, Article.next_fetch_at, Article.last_error,
                                  where=[Article.status == ArticleStatus.PENDING])  # fmt: skip
    assert "429" in error and next_fetch >= refused_wall + timedelta(seconds=0.9)
    time.sleep(max(0.0, (next_fetch - datetime.now(UTC)).total_seconds()) + 0.1)
    reports, _ = once(cfg, settings)
    assert reports[0].processed == 1 and reports[0].retrying == 0
    assert len(site.posts("/hook")) == 2


# --------------------------------------------------------------------------- the daemon as a process


def metric(families: dict, sample: str, **labels: str) -> float:
    """Sum of the samples called ``sample`` whose labels include ``labels``."""
    family = sample.removesuffix("_total").removesuffix("_count")
    return (
        sum(
            s.value
            for s in families[family].samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )
        if family in families
        else 0.0
    )


def test_daemon_serves_healthz_and_metrics_and_alerts_a_new_article_within_its_interval(tmp_path, site):
    items = [story(site, "/2026/11/digital-strategy/", "Digital strategy presented", SEGHROUCHNI),
             story(site, "/2026/11/tangier-data-centre/", "Tangier data centre", DATACENTRE),
             story(site, "/2026/11/cup-final-report/", "Cup final ends in a draw")]  # fmt: skip
    serve_feed(site, "/feed.xml", items)
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}",
                      [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "2s"}], hook(site))  # fmt: skip
    port = free_port()
    daemon = Daemon(cfg, tmp_path, "--http", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: len(site.posts("/hook")) == 2, 60, "the two alerts")
        scraped: dict = {}

        def counted() -> bool:
            status, text = http_get(port, "/metrics")
            scraped.update({f.name: f for f in text_string_to_metric_families(text)})
            return status == 200 and metric(scraped, "monitor_alerts_sent_total", outcome="sent") >= 2

        wait_for(counted, 30, "/metrics to count the sent alerts")
        assert metric(scraped, "monitor_polls_total", source="Atlas") >= 1
        assert metric(scraped, "monitor_articles_total", source="Atlas", outcome="done") == 3
        assert metric(scraped, "monitor_matches_total") == 2
        assert metric(scraped, "monitor_matches_total", topic="Seghrouchni") == 1
        assert metric(scraped, "monitor_alerts", status="sent") == 2
        assert metric(scraped, "monitor_articles_stored", status="done") == 3
        assert metric(scraped, "monitor_poll_seconds_count") >= 1
        assert metric(scraped, "monitor_article_seconds_count") == 3
        status, body = http_get(port, "/healthz")
        health = json.loads(body)
        assert status == 200 and health["ok"] is True and health["sources"] == 1
        assert http_get(port, "/nope")[0] == 404

        # A new matching article is alerted within the source's interval plus a few seconds.
        wait_for(lambda: site.hits("/feed.xml") >= 2, 30, "a second poll")
        items.append(story(site, "/2026/11/seghrouchni-visits-tangier/", "Seghrouchni visits Tangier",
                           SEGHROUCHNI))  # fmt: skip
        serve_feed(site, "/feed.xml", items)
        published = time.monotonic()
        wait_for(lambda: len(site.posts("/hook")) == 3, 60, "the new article's alert")
        latency = time.monotonic() - published
        assert "Seghrouchni visits Tangier" in site.posts("/hook")[-1].json()["title"]
        assert latency < 2 * 1.1 + 0.3 + 15, latency  # interval (+jitter) + tick + generous slack
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0, daemon.log
    assert "Traceback" not in daemon.log, daemon.log


@pytest.mark.parametrize("how", ["sighup", "watch-config"])
def test_config_reload_adds_and_removes_sources_and_topics(tmp_path, site, how):
    serve_feed(site, "/a.xml", [])
    serve_feed(site, "/b.xml", [])
    harbour = story(site, "/c/2026/11/tangier-harbour-extended/", "Tangier harbour to be extended",
                    "The harbour of Tangier Med will be extended by 2030, the port authority said.")  # fmt: skip
    serve_feed(site, "/c.xml", [harbour])
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    a = {"name": "A", "feed": site.url("/a.xml"), "interval": "1s"}
    b = {"name": "B", "feed": site.url("/b.xml"), "interval": "1s"}
    c = {"name": "C", "feed": site.url("/c.xml"), "interval": "1s"}
    cfg = make_config(tmp_path, db_url, [a, b], hook(site))
    daemon = Daemon(cfg, tmp_path, *(["--watch-config"] if how == "watch-config" else []))
    try:
        wait_for(lambda: site.hits("/a.xml") >= 2 and site.hits("/b.xml") >= 2, 60, "A and B polled")
        assert site.hits("/c.xml") == 0
        topics = [
            {"name": "Harbour", "keywords": ["harbour"]},
            {"name": "Seghrouchni", "keywords": ["Seghrouchni"]},
        ]
        make_config(tmp_path, db_url, [a, c], hook(site), topics=topics)  # rewrites the same file
        if how == "sighup":
            daemon.signal(signal.SIGHUP)
        wait_for(lambda: site.hits("/c.xml") >= 1, 30, "the added source to be polled")
        wait_for(lambda: len(site.posts("/hook")) == 1, 30, "the added topic's alert")
        assert site.posts("/hook")[0].json()["title"].startswith("[Harbour]")
        time.sleep(0.5)  # a poll of B begun before the reload may still be on its way
        a_hits, b_hits = site.hits("/a.xml"), site.hits("/b.xml")
        time.sleep(3)  # three intervals
        assert site.hits("/b.xml") == b_hits, "the removed source is still polled"
        assert site.hits("/a.xml") > a_hits and site.hits("/c.xml") >= 2
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0, daemon.log
    assert "config reloaded: 2 sources (+C, -B), 2 topics (+Harbour, -Data centres)" in daemon.log


def test_a_broken_config_edit_keeps_the_running_config(tmp_path, site):
    serve_feed(site, "/a.xml", [])
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}",
                      [{"name": "A", "feed": site.url("/a.xml"), "interval": "1s"}], hook(site))  # fmt: skip
    daemon = Daemon(cfg, tmp_path, "--watch-config")
    try:
        wait_for(lambda: site.hits("/a.xml") >= 1, 60, "A polled")
        Path(cfg.path).write_text('{"sources": [{"name": "A"}]', encoding="utf-8")  # broken JSON/YAML
        wait_for(lambda: "config reload failed" in daemon.log, 30, "the reload error")
        hits = site.hits("/a.xml")
        wait_for(lambda: site.hits("/a.xml") > hits, 30, "A still polled")
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0 and "Traceback" not in daemon.log, daemon.log


def _slow_outlet(site, delay: float) -> list[str]:
    """Four articles (two matching) whose pages take ``delay`` seconds; returns their paths."""
    texts = [SEGHROUCHNI, DATACENTRE, "The match ended one all.", "Rain is expected in the north."]
    paths = [f"/2026/11/slow-story-{i}/" for i in range(4)]
    items = [
        story(site, p, f"Slow story {i}", t, delay=delay)
        for i, (p, t) in enumerate(zip(paths, texts, strict=True))
    ]
    serve_feed(site, "/feed.xml", items)
    return paths


def _all_stored_once(cfg, site, paths: list[str]) -> None:
    assert sorted(rows(cfg, Article.status)) == [(ArticleStatus.DONE,)] * len(paths)
    titles = sorted(p.json()["title"] for p in site.posts("/hook"))
    assert len(titles) == 2, titles
    assert titles[0].startswith("[Data centres]") and titles[1].startswith("[Seghrouchni]")
    assert sorted(rows(cfg, Alert.status)) == [(OutboxStatus.SENT,)] * 2


@pytest.mark.parametrize("ctrl_c", [False, True], ids=["sigterm", "ctrl-c"])
def test_sigterm_during_work_finishes_it_and_loses_nothing(tmp_path, site, ctrl_c):
    paths = _slow_outlet(site, delay=1.0)
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}",
                      [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "1h"}], hook(site))  # fmt: skip
    daemon = Daemon(cfg, tmp_path, global_args=("--log-format", "json"))
    try:
        wait_for(lambda: any(site.hits(p) for p in paths), 60, "the first article request")
        code, took = daemon.stop(timeout=90, ctrl_c=ctrl_c)
    finally:
        daemon.kill()
    assert code == 0, daemon.log
    assert took >= 0.5  # it waited for the pages in flight rather than dropping them
    records = [json.loads(line) for line in daemon.log.splitlines() if line.strip()]
    assert any("stopping: finishing 1 poll(s)" in r["message"] for r in records)
    assert records[-1]["message"] == "stopped"

    proc = cli("--config", cfg.path, "run", "--once", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _all_stored_once(cfg, site, paths)
    assert [site.hits(p) for p in paths] == [1, 1, 1, 1]  # finished by the daemon, not fetched again


def test_a_killed_daemon_loses_nothing_after_a_restart(tmp_path, site):
    """kill -9 in the middle of a poll: the restarted daemon finishes the work, once."""
    paths = _slow_outlet(site, delay=1.0)
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}",
                      [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "2s"}], hook(site))  # fmt: skip
    daemon = Daemon(cfg, tmp_path)
    try:
        wait_for(lambda: any(site.hits(p) for p in paths), 60, "the first article request")
        daemon.proc.kill()
        daemon.proc.wait(timeout=30)
    finally:
        daemon.kill()
    assert ArticleStatus.PENDING in {s for (s,) in rows(cfg, Article.status)}  # killed with work in flight
    restarted = Daemon(cfg, tmp_path)
    try:
        wait_for(
            lambda: sorted(rows(cfg, Article.status)) == [(ArticleStatus.DONE,)] * 4, 60, "every article done"
        )
        wait_for(lambda: len(site.posts("/hook")) >= 2, 30, "the alerts")
        time.sleep(1)  # nothing more should come
        code, _ = restarted.stop()
    finally:
        restarted.kill()
    assert code == 0, restarted.log
    _all_stored_once(cfg, site, paths)


def test_work_cut_short_at_the_stop_timeout_is_finished_by_the_next_run(tmp_path, db_url, site, caplog):
    paths = _slow_outlet(site, delay=1.5)
    cfg = make_config(tmp_path, db_url, [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "1h"}],
                      hook(site))  # fmt: skip

    async def go():
        stop = asyncio.Event()

        async def stop_when_pages_are_requested():
            while not any(site.hits(p) for p in paths):
                await asyncio.sleep(0.02)
            stop.set()

        trigger = asyncio.create_task(stop_when_pages_are_requested())
        await run_daemon(cfg, FAST, tick=0.2, send_every=0.5, stop_timeout=0.2, stop_event=stop)
        await trigger
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    with caplog.at_level(logging.WARNING):
        leftovers = asyncio.run(go())
    assert leftovers == [], "run_daemon returned with tasks still running"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "stop timeout: 1 poll(s) cut short" in caplog.text
    statuses = dict(rows(cfg, Article.url, Article.status))
    assert len(statuses) == 4 and ArticleStatus.PENDING in statuses.values()  # cut short: some pages not done
    assert {a for (a,) in rows(cfg, Article.attempts, where=[Article.status == ArticleStatus.PENDING])} == {
        0
    }  # no attempt spent

    once(cfg)
    _all_stored_once(cfg, site, paths)


def test_removing_a_source_while_it_is_being_polled(tmp_path, db_url, site):
    page = story(site, "/2026/11/slow-feed-story/", "Slow feed story", SEGHROUCHNI)
    site.route("/slow.xml", Response(rss_feed(site.base, [page]), content_type=RSS, delay=1.0))
    serve_feed(site, "/other.xml", [])
    slow = {"name": "Slow", "feed": site.url("/slow.xml")}
    other = {"name": "Other", "feed": site.url("/other.xml")}
    cfg = make_config(tmp_path, db_url, [slow, other], hook(site))

    async def work(rt):
        task = asyncio.create_task(poll_source(rt, cfg.source("Slow")))
        await asyncio.sleep(0.3)
        rt.apply(make_config(tmp_path, db_url, [other], hook(site)))  # SIGHUP meanwhile
        return await task

    report = in_runtime(cfg, work)
    assert report.ok and report.processed == 1 and report.matched == 1, report.error
    row = source_row(cfg, "Slow")
    assert row.last_success_at is not None and row.consecutive_failures == 0


# --------------------------------------------------------------------------- status, logs, operator alerts


def test_status_flags_failing_silent_and_disabled_sources(tmp_path, site):
    serve_outlet(site)
    serve_feed(site, "/quiet.xml", [])
    site.route("/gone.xml", Response("gone", status=410, content_type="text/plain"))
    sources = [
        {"name": "Atlas", "feed": site.url("/feed.xml")},
        {"name": "Quiet", "feed": site.url("/quiet.xml")},
        {"name": "Broken", "feed": site.url("/missing.xml")},
        {"name": "Gone", "feed": site.url("/gone.xml")},
    ]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", sources, hook(site))
    for _ in range(3):
        once(cfg)
    now = datetime.now(UTC)
    engine = make_engine(cfg.database)
    with transaction(make_sessionmaker(engine)) as s:  # Quiet used to publish hourly, then stopped
        quiet = s.scalar(select(Source.id).where(Source.name == "Quiet"))
        for i in range(6):
            url = f"{site.base}/quiet/{i}"
            s.add(Article(source_id=quiet, url=url, fetch_url=url, status=ArticleStatus.DONE, origin="live",
                          discovered_at=now - timedelta(hours=10 + i)))  # fmt: skip
    engine.dispose()

    proc = cli("--config", cfg.path, "status", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = {name: next((line for line in proc.stdout.splitlines() if f" {name} " in line), "")
             for name in ("Atlas", "Quiet", "Broken", "Gone")}  # fmt: skip
    assert " ok " in lines["Atlas"], proc.stdout
    assert "silent" in lines["Quiet"] and "failing" not in lines["Quiet"], proc.stdout
    assert "failing" in lines["Broken"], proc.stdout
    assert "disabled" in lines["Gone"], proc.stdout
    assert "…" not in proc.stdout  # nothing cut at the 80 columns a pipe gets
    errors = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert any(line.startswith("Broken: ") and line.endswith("HTTP 404 Not Found") for line in errors)
    assert any(line.startswith("Gone: ") and "410 Gone" in line for line in errors)

    proc = cli("--config", cfg.path, "status", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    health = {h["source"]: h for h in json.loads(proc.stdout)}
    assert [health[n]["flags"] for n in ("Atlas", "Quiet", "Broken", "Gone")] == [
        [], ["silent"], ["failing"], ["disabled"]]  # fmt: skip
    assert (
        health["Atlas"]["items_24h"] == 3 and health["Atlas"]["last_success"] and health["Atlas"]["next_poll"]
    )
    assert health["Quiet"]["items_24h"] == 6
    assert health["Broken"]["consecutive_failures"] == 3 and "404" in health["Broken"]["last_error"]
    assert "410" in health["Gone"]["disabled"]


def test_json_logs_name_the_source_and_article(tmp_path, site):
    serve_outlet(site)
    site.route(
        "/2026/11/tangier-data-centre-project/", Response("oops", status=500, content_type="text/plain")
    )
    sources = [
        {"name": "Dead host", "feed": "http://127.0.0.1:9/feed.xml"},
        {"name": "Atlas", "feed": site.url("/feed.xml")},
    ]
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", sources, hook(site))
    proc = cli("--config", cfg.path, "--log-format", "json", "run", "--once", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]  # every line is JSON
    dead = [r for r in records if "refused" in r["message"]]
    assert dead and all(r["level"] == "warning" and r["source"] == "Dead host" for r in dead)
    page = [r for r in records if "HTTP 500" in r["message"]]
    assert page and page[0]["source"] == "Atlas"
    assert page[0]["article"].endswith("/2026/11/tangier-data-centre-project/")


def test_operator_is_alerted_once_per_episode(tmp_path, db_url, site):
    ops = {"up": False}
    site.route("/ops", lambda _req: Response("ok" if ops["up"] else "down", status=200 if ops["up"] else 500,
                                             content_type="text/plain"))  # fmt: skip
    serve_feed(site, "/fine.xml", [])
    channels = [
        {"name": "hook", "url": f"json://{hook(site)}"},
        {"name": "ops", "url": f"json://{site.base[7:]}/ops"},
    ]
    sources = [
        {"name": "Broken", "feed": site.url("/broken.xml")},
        {"name": "Fine", "feed": site.url("/fine.xml")},
    ]
    cfg = make_config(tmp_path, db_url, sources, "unused", channels=channels, operator_channel="ops")

    def delivered() -> list[dict]:
        return [p.json() for p in site.posts("/ops")]

    async def work(rt):
        operator = OperatorAlerts()
        checks = []
        for _ in range(3):
            await poll_source(rt, cfg.source("Broken"))
            await poll_source(rt, cfg.source("Fine"))
            checks.append(operator.check(rt))
        assert checks == [[], [], []] and len(site.posts("/ops")) == 1  # tried once, channel down
        ops["up"] = True
        assert operator.check(rt) == ["Broken: failing"]  # tried again at the next check
        await poll_source(rt, cfg.source("Broken"))
        assert operator.check(rt) == [] and operator.check(rt) == []  # one alert per episode
        assert len(site.posts("/ops")) == 2

        serve_feed(site, "/broken.xml", [])  # recovers...
        await poll_source(rt, cfg.source("Broken"))
        assert operator.check(rt) == []
        site.route("/broken.xml", Response("oops", status=500, content_type="text/plain"))  # ...fails again
        for _ in range(3):
            await poll_source(rt, cfg.source("Broken"))
        assert operator.check(rt) == ["Broken: failing"]

    in_runtime(cfg, work)
    alerts = delivered()
    assert len(alerts) == 3  # the failed attempt, then one per episode
    assert all("[monitor] source 'Broken' is failing" in a["title"] for a in alerts)
    assert "404" in alerts[1]["message"] and site.url("/broken.xml") in alerts[1]["message"]
    assert "500" in alerts[2]["message"]
    assert not any("Fine" in a["title"] for a in alerts)

    run_daemon_for(cfg, 2.0, health_every=0.3)  # the daemon checks on its own, once per episode too
    assert len(site.posts("/ops")) == 4


def test_operator_channel_added_by_a_reload_is_used(tmp_path, site):
    site.route("/ops", Response("ok", content_type="text/plain"))
    db_url = f"sqlite:///{tmp_path / 'm.db'}"
    channels = [
        {"name": "hook", "url": f"json://{hook(site)}"},
        {"name": "ops", "url": f"json://{site.base[7:]}/ops"},
    ]
    sources = [{"name": "Broken", "feed": site.url("/broken.xml")}]
    cfg = make_config(tmp_path, db_url, sources, "unused", channels=channels)

    async def fail_three_times(rt):
        for _ in range(3):
            await poll_source(rt, cfg.source("Broken"))

    in_runtime(cfg, fail_three_times)

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def add_operator_channel():
            make_config(tmp_path, db_url, sources, "unused", channels=channels, operator_channel="ops")
            signal.raise_signal(signal.SIGHUP)

        loop.call_later(0.5, add_operator_channel)
        loop.call_later(2.5, stop.set)
        await run_daemon(cfg, FAST, tick=0.2, send_every=0.5, health_every=0.3, stop_event=stop)

    asyncio.run(go())
    posts = site.posts("/ops")
    assert len(posts) == 1 and "'Broken' is failing" in posts[0].json()["title"]


def test_a_busy_http_port_is_one_clear_line(tmp_path, site):
    serve_feed(site, "/a.xml", [])
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [{"name": "A", "feed": site.url("/a.xml")}],
                      hook(site))  # fmt: skip
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = cli("--config", cfg.path, "run", "--http", f"127.0.0.1:{port}", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cannot serve http://127.0.0.1:{port}/: " in proc.stderr and "in use" in proc.stderr
    assert site.hits("/a.xml") == 0  # it stopped before polling anything
