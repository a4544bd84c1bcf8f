"""The daemon and its polling, end to end against real local servers: conditional GET, backoff and
Retry-After, robots.txt, 410 Gone, per-host politeness through the pipeline, signals (SIGTERM,
SIGHUP, --watch-config), the /healthz and /metrics endpoint, `monitor status`, JSON logs and
operator alerts.

Timing checks are lower bounds (a slow machine only makes gaps longer), except the few "it did
happen within N seconds" waits, whose bounds are generous.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from monitor import pipeline
from monitor.db.models import DONE, PENDING, Article, Source
from monitor.db.session import make_engine, make_sessionmaker
from monitor.extract import Extractor
from monitor.pipeline import poll_source
from monitor.runtime import Settings, open_runtime
from monitor.scheduler import due_sources, run_daemon
from tests.servers import Response
from tests.sitegen import article_page, listing_page, rss_feed
from tests.test_pipeline import DATACENTRE, FAST, SEGHROUCHNI, make_config, once, paragraphs

RSS = "application/rss+xml"


# --------------------------------------------------------------------------- helpers


def story(site, path: str, title: str, *text: str, delay: float = 0.0, summary: str = "") -> dict:
    """Serve an article page at ``path``; return its feed item."""
    site.route(path, Response(article_page(title, paragraphs(*text)), delay=delay))
    return {"title": title, "link": site.url(path), "summary": summary}


def serve_feed(site, path: str, items: list[dict], **headers: str) -> bytes:
    body = rss_feed(site.base, items).encode()
    site.route(path, Response(body, content_type=RSS, headers=headers))
    return body


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


def hook(site) -> str:
    """A json:// receiver on the site; returns the host/path for make_config."""
    site.route("/hook", Response("ok", content_type="text/plain"))
    return site.base[7:] + "/hook"


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


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Spy:
    """Counts feed parsing, discovery and extraction calls made in this process."""

    def __init__(self, monkeypatch) -> None:
        self.parsed = self.discovered = self.extracted = 0
        real_parse, real_discover, real_extract = pipeline.parse_feed, pipeline.discover, Extractor.extract
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

        monkeypatch.setattr(pipeline, "parse_feed", parse_feed)
        monkeypatch.setattr(pipeline, "discover", discover)
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
    assert "429" in slow.last_error and _poll_delay(slow) >= 3600  # an HTTP date, far away

    async def due(rt):
        return due_sources(rt), due_sources(rt, datetime.now(UTC) + timedelta(seconds=125))

    now_due, later_due = in_runtime(cfg, due)
    assert now_due == [] and later_due == ["Busy"]


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
    assert status == DONE and title == "Seghrouchni opens an AI campus"
    assert "robots.txt" in error and "feed" in error
    titles = sorted(p.json()["title"] for p in site.posts("/hook"))
    assert len(titles) == 2
    assert titles[0].startswith("[Data centres]") and "Seghrouchni opens an AI campus" in titles[1]


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


class InFlight:
    """A route recording concurrency and request start times (``starts`` may be shared by routes)."""

    def __init__(self, response: Response, hold: float = 0.0, starts: list[float] | None = None) -> None:
        self.response, self.hold = response, hold
        self.current = self.peak = 0
        self.starts: list[float] = [] if starts is None else starts
        self.lock = threading.Lock()

    def __call__(self, _req):
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.starts.append(time.monotonic())
        time.sleep(self.hold)
        with self.lock:
            self.current -= 1
        return self.response


def gaps(starts: list[float]) -> list[float]:
    starts = sorted(starts)
    return [b - a for a, b in zip(starts, starts[1:], strict=False)]


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
                                  where=[Article.status == PENDING])  # fmt: skip
    assert "429" in error and next_fetch >= refused_wall + timedelta(seconds=0.9)
    time.sleep(max(0.0, (next_fetch - datetime.now(UTC)).total_seconds()) + 0.1)
    reports, _ = once(cfg, settings)
    assert reports[0].processed == 1 and reports[0].retrying == 0
    assert len(site.posts("/hook")) == 2
