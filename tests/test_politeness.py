"""Politeness against a real local server: per-host concurrency, delay, Retry-After, robots.txt.

Spacing checks are lower bounds only (a slow machine can only make gaps longer)."""

from __future__ import annotations

import asyncio
import time

from monitor.fetch.http import HttpClient
from tests.helpers import InFlight, gaps
from tests.servers import Response


def fetch_all(client: HttpClient, urls: list[str], **kwargs):
    async def go():
        async with client:
            return await asyncio.gather(*(client.get(u, origin=u, **kwargs) for u in urls))

    return asyncio.run(go())


def test_a_host_never_sees_more_than_its_concurrency(site):
    route = InFlight(hold=0.2)
    for i in range(8):
        site.route(f"/p{i}", route)
    results = fetch_all(HttpClient(per_host=2, delay=0), [site.url(f"/p{i}") for i in range(8)])
    assert all(r.ok for r in results)
    assert route.peak == 2


def test_requests_to_a_host_are_spaced_by_its_delay(site):
    route = InFlight()
    for i in range(4):
        site.route(f"/p{i}", route)
    results = fetch_all(HttpClient(per_host=4, delay=0.25), [site.url(f"/p{i}") for i in range(4)])
    assert all(r.ok for r in results) and len(route.starts) == 4
    assert min(gaps(route.starts)) >= 0.2


def test_retry_after_pauses_the_host(site):
    calls = {"n": 0}
    route = InFlight()

    def busy(req):
        calls["n"] += 1
        if calls["n"] == 1:
            return Response("busy", status=503, content_type="text/plain", headers={"Retry-After": "1"})
        return route(req)

    site.route("/busy", busy)
    site.route("/next", route)

    async def go():
        async with HttpClient(per_host=2, delay=0) as client:
            first = await client.get(site.url("/busy"), origin=site.base)
            sent = time.monotonic()
            second = await client.get(site.url("/next"), origin=site.base)
            return first, second, sent

    first, second, sent = asyncio.run(go())
    assert first.status == 503 and first.retry_after == 1.0
    assert second.ok
    assert route.starts[0] - sent >= 0.9


ROBOTS = """User-agent: *
Disallow: /private/
Crawl-delay: 0.3
"""


def test_robots_disallow_is_obeyed_and_nothing_is_requested(site):
    site.route("/robots.txt", Response(ROBOTS, content_type="text/plain"))
    route = InFlight()
    site.route("/private/secret", route)
    site.route("/news/a", route)
    site.route("/news/b", route)
    client = HttpClient(per_host=2, delay=0)
    blocked, a, b = fetch_all(
        client, [site.url("/private/secret"), site.url("/news/a"), site.url("/news/b")], robots=True
    )
    assert blocked.robots == "disallowed" and not blocked.ok and "robots.txt" in blocked.error
    assert site.hits("/private/secret") == 0
    assert a.ok and b.ok
    assert site.hits("/robots.txt") == 1  # cached for the host
    assert min(gaps(route.starts)) >= 0.25  # Crawl-delay applied


def test_robots_errors_follow_rfc_9309(site):
    site.route("/a", Response("ok", content_type="text/plain"))
    site.route("/robots.txt", Response("gone", status=404, content_type="text/plain"))
    (missing,) = fetch_all(HttpClient(delay=0), [site.url("/a")], robots=True)
    assert missing.ok  # 4xx: no rules
    site.route("/robots.txt", Response("oops", status=500, content_type="text/plain"))
    (broken,) = fetch_all(HttpClient(delay=0), [site.url("/a")], robots=True)
    assert broken.robots == "unavailable" and not broken.ok and "robots.txt unavailable" in broken.error


def test_feeds_skip_robots_by_default(site):
    site.route("/robots.txt", Response("User-agent: *\nDisallow: /\n", content_type="text/plain"))
    site.route("/feed.xml", Response("<rss/>", content_type="application/rss+xml"))
    (result,) = fetch_all(HttpClient(delay=0), [site.url("/feed.xml")])
    assert result.ok and site.hits("/robots.txt") == 0


def test_retry_after_also_holds_requests_already_waiting_for_their_turn(site):
    """B and C are queued behind the host's delay when A's 503 + Retry-After arrives: they wait for
    the pause, and still start a delay apart after it."""
    answered: list[float] = []
    route = InFlight()

    def busy(_req):
        answered.append(time.monotonic())
        return Response("busy", status=503, content_type="text/plain", headers={"Retry-After": "1.5"})

    site.route("/busy", busy)
    site.route("/b", route)
    site.route("/c", route)
    first, *rest = fetch_all(HttpClient(per_host=3, delay=0.4), [site.url(p) for p in ("/busy", "/b", "/c")])
    assert first.status == 503 and all(r.ok for r in rest)
    assert min(route.starts) - answered[0] >= 1.4
    assert min(gaps(route.starts)) >= 0.35
