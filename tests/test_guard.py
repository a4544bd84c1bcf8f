"""The address guard (server-side request forgery) against real servers on several loopback
addresses: the configured source lives on 127.0.0.2 (its host is trusted), another private host
on 127.0.0.3 must never be reached by a link, a redirect or a sitemap entry unless
``fetch.allow_private`` says so. Loopback is private, which is what makes these tests real."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from datetime import UTC, datetime

import pytest
from aiohttp.abc import AbstractResolver
from sqlalchemy import select

from monitor.config import ConfigError, load
from monitor.db.models import Article, ArticleStatus
from monitor.fetch.guard import (
    AddressPolicy,
    AddressRefused,
    GuardedResolver,
    address_kind,
    normalise_host,
    trusting,
)
from monitor.fetch.http import FetchResult, HttpClient
from tests.helpers import FAST, db, make_config, once, paragraphs
from tests.servers import Response, Site
from tests.sitegen import article_page, rss_feed

SECRET = "internal secret: the quarterly numbers"


@pytest.fixture
def source():
    """The configured outlet, on 127.0.0.2."""
    s = Site("127.0.0.2")
    yield s
    s.close()


@pytest.fixture
def inside():
    """Another private host, on 127.0.0.3, that strangers' links must not reach."""
    s = Site("127.0.0.3")
    s.route("/secret", Response(SECRET, content_type="text/plain"))
    s.route("/moved-secret", Response(SECRET, content_type="text/plain"))
    yield s
    s.close()


def get(url: str, *, origin=None, client: dict | None = None, **kwargs) -> FetchResult:
    async def run() -> FetchResult:
        async with HttpClient(delay=0, **(client or {})) as http:
            return await http.get(url, origin=origin, **kwargs)

    return asyncio.run(run())


def refused(host: str) -> str:
    return f"refused: {host} is a private address; see fetch.allow_private"


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    "spelling, dotted",
    [("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
     ("0x7f000003", "127.0.0.3"), ("0x7F.0.0.3.", "127.0.0.3"), ("LocalHost.", "localhost"), ("[::1]", "::1"),
     ("news.example.org", "news.example.org")],
)  # fmt: skip
def test_hosts_are_normalised_and_numeric_ipv4_spellings_read_as_addresses(spelling, dotted):
    assert normalise_host(spelling) == dotted


@pytest.mark.parametrize(
    "address, kind",
    [("8.8.8.8", None), ("2606:4700::1111", None), ("::ffff:8.8.8.8", None), ("2002:808:808::1", None),
     ("127.0.0.1", "private"), ("10.1.2.3", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"),
     ("169.254.169.254", "private"), ("100.64.0.1", "private"), ("0.0.0.0", "private"), ("::", "private"),
     ("::1", "private"), ("fe80::1", "private"), ("fd00::1", "private"),
     ("::ffff:127.0.0.1", "private"), ("::ffff:169.254.169.254", "private"),  # IPv4-mapped
     ("2002:7f00:1::", "private"), ("2002:a9fe:a9fe::", "private"),  # 6to4 of 127.0.0.1, 169.254.169.254
     ("2001:0:4136:e378:8000:63bf:80ff:fffe", "private"),  # Teredo, client 127.0.0.1
     ("64:ff9b::a9fe:a9fe", "private"), ("::7f00:1", "private"),  # NAT64, IPv4-compatible
     ("224.0.0.1", "multicast"), ("ff02::1", "multicast"), ("240.0.0.1", "private")],
)  # fmt: skip
def test_only_global_addresses_are_public_after_unwrapping_embedded_ipv4(address, kind):
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_allow_private_lists_hosts_addresses_and_ranges():
    policy = AddressPolicy(["10.0.0.0/8", "intranet.example", "127.0.0.3"])
    ip = ipaddress.ip_address
    assert policy.refusal("wiki", ip("10.9.8.7"), frozenset()) is None
    assert policy.refusal("::ffff:10.9.8.7", ip("::ffff:10.9.8.7"), frozenset()) is None
    assert policy.refusal("intranet.example", ip("192.168.1.1"), frozenset()) is None
    assert policy.refusal("127.0.0.3", ip("127.0.0.3"), frozenset()) is None
    assert policy.refusal("127.0.0.4", ip("127.0.0.4"), frozenset()) == refused("127.0.0.4")
    assert policy.refusal("wiki", ip("192.168.1.1"), frozenset()) == (
        "refused: wiki resolves to 192.168.1.1, a private address; see fetch.allow_private"
    )
    assert policy.refusal("wiki", ip("192.168.1.1"), frozenset({"wiki"})) is None  # the configured host


def test_bad_allow_private_entries_are_config_errors_with_their_line(tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "fetch:\n  allow_private:\n    - 10.0.0.0/8\n    - intranet.example\n    - 10.0.0.0/33\n"
        "    - '0x7f.1'\n    - 'not a host!'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:5: fetch.allow_private[2]: '10.0.0.0/33' is neither a host name nor")
    assert lines[1].startswith(f"{path}:6: fetch.allow_private[3]: '0x7f.1': write an address as four")
    assert lines[2].startswith(f"{path}:7: fetch.allow_private[4]: 'not a host!' is neither")
    path.write_text("fetch:\n  allow_private: ['10.0.0.0/8', 'Intranet.Example.', '::1']\n")
    assert load(path).fetch.allow_private == ["10.0.0.0/8", "intranet.example", "::1/128"]


# --------------------------------------------------------------------------- the client


def test_links_reach_the_source_host_but_no_other_private_host(source, inside):
    source.route("/a", Response("article"))
    feed = source.url("/feed.xml")

    same = get(source.url("/a"), origin=feed)
    assert same.ok and same.body == b"article"

    other = get(inside.url("/secret"), origin=feed)
    assert other.refused and other.status == 0 and other.body is None
    assert other.error == refused("127.0.0.3")
    assert inside.connections == 0

    assert get(inside.url("/secret")).error == refused("127.0.0.3")  # no origin: nothing private


def test_redirects_to_another_private_host_are_refused(source, inside):
    source.route("/moved", Response("", status=302, headers={"Location": inside.url("/moved-secret")}))
    source.route("/feed.xml", Response("", status=301, headers={"Location": inside.url("/moved-secret")}))
    source.route("/here", Response("", status=302, headers={"Location": "/there"}))
    source.route("/there", Response("arrived"))
    feed = source.url("/feed.xml")

    assert get(source.url("/moved"), origin=feed).error == refused("127.0.0.3")
    # The configured URL itself is trusted as written, not where it redirects to.
    assert get(feed, origin=feed).error == refused("127.0.0.3")
    assert inside.connections == 0
    within = get(source.url("/here"), origin=feed)
    assert within.ok and within.body == b"arrived" and within.final_url == source.url("/there")


@pytest.mark.parametrize("allowed", ["127.0.0.3", "127.0.0.0/24"])
def test_allow_private_opens_an_address_or_a_range(source, inside, allowed):
    source.route("/moved", Response("", status=302, headers={"Location": inside.url("/moved-secret")}))
    client = {"allow_private": [allowed]}
    origin = source.url("/feed.xml")
    assert get(inside.url("/secret"), origin=origin, client=client).body == SECRET.encode()
    assert get(source.url("/moved"), origin=origin, client=client).body == SECRET.encode()


@pytest.mark.parametrize(
    "host, server, message",
    [("localhost", "plain", "refused: localhost resolves to "),
     ("0.0.0.0", "plain", refused("0.0.0.0")),
     ("[::1]", "plain", refused("::1")),
     ("2130706433", "plain", refused("127.0.0.1")),
     ("0177.0.0.1", "plain", refused("127.0.0.1")),
     ("127.1", "plain", refused("127.0.0.1")),
     ("0x7f000003", "inside", refused("127.0.0.3")),
     ("169.254.169.254", None, refused("169.254.169.254")),
     ("[::ffff:169.254.169.254]", None, refused("::ffff:a9fe:a9fe"))],
)  # fmt: skip
@pytest.mark.parametrize("robots", [False, True])
def test_internal_addresses_in_any_spelling_are_refused_before_connecting(
    source, inside, site, host, server, message, robots
):
    target = {"plain": site, "inside": inside}.get(server)
    port = f":{target.port}" if target else ""
    result = get(f"http://{host}{port}/latest/meta-data/", origin=source.url("/feed.xml"), robots=robots)
    assert result.refused and result.error.startswith(message), result.error
    assert result.error.endswith("a private address; see fetch.allow_private")
    assert site.connections == 0 and inside.connections == 0  # not even robots.txt was asked for


class Rebinding(AbstractResolver):
    """The one thing these tests cannot make real: a DNS server whose answer for a name changes
    between two lookups (public first, then private). A test double for the name resolver."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls = 0

    async def resolve(self, host, port=0, family=socket.AF_INET):
        address = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": 0}]  # fmt: skip

    async def close(self) -> None:
        pass


def test_a_name_that_rebinds_to_a_private_address_is_refused_on_the_lookup_the_connection_uses(
    source, inside
):
    double = Rebinding(["93.184.215.14", "127.0.0.3"])

    async def run() -> tuple[list, FetchResult]:
        guarded = GuardedResolver(AddressPolicy(), double)
        with trusting(frozenset()):
            first = await guarded.resolve("rebind.example", inside.port)  # a check passes: public
        async with HttpClient(delay=0, resolver=double) as http:
            return first, await http.get(f"http://rebind.example:{inside.port}/secret", origin=source.base)

    first, result = asyncio.run(run())
    assert [a["host"] for a in first] == ["93.184.215.14"]
    assert double.calls == 2  # the request looked the name up again, for the connection itself
    assert result.refused
    assert (
        result.error
        == "refused: rebind.example resolves to 127.0.0.3, a private address; see fetch.allow_private"
    )
    assert inside.connections == 0


def test_private_answers_are_dropped_from_a_mixed_answer():
    class Mixed(Rebinding):
        async def resolve(self, host, port=0, family=socket.AF_INET):
            return [{"hostname": host, "host": a, "port": port, "family": 0, "proto": 0, "flags": 0}
                    for a in ("10.0.0.1", "93.184.215.14", "::1")]  # fmt: skip

    async def run():
        guarded = GuardedResolver(AddressPolicy(), Mixed([]))
        with trusting(frozenset()):
            kept = await guarded.resolve("mixed.example", 80)
        with trusting(frozenset({"mixed.example"})):
            trusted = await guarded.resolve("mixed.example", 80)
        with trusting(frozenset()), pytest.raises(AddressRefused):
            await GuardedResolver(AddressPolicy(), Rebinding(["10.0.0.1"])).resolve("inner.example", 80)
        return kept, trusted

    kept, trusted = asyncio.run(run())
    assert [a["host"] for a in kept] == ["93.184.215.14"]
    assert len(trusted) == 3


def test_a_pooled_connection_is_not_reused_by_a_request_that_may_not_reach_its_address(source):
    """aiohttp pools connections by host and port: a keep-alive connection opened for the source
    that owns a private host must not carry a stranger's link to that same host."""
    source.route("/a", Response("article"))
    source.route("/secret", Response(SECRET, content_type="text/plain"))
    double = Rebinding(["127.0.0.2"])  # intranet.example is the source's host, on 127.0.0.2

    async def run() -> tuple[FetchResult, FetchResult]:
        async with HttpClient(delay=0, resolver=double) as http:
            own = await http.get(
                f"http://intranet.example:{source.port}/a", origin="http://intranet.example/"
            )
            stranger = await http.get(
                f"http://intranet.example:{source.port}/secret", origin="http://other.example/"
            )
            return own, stranger

    own, stranger = asyncio.run(run())
    assert own.ok
    assert stranger.error == (
        "refused: intranet.example resolves to 127.0.0.2, a private address; see fetch.allow_private"
    )
    assert source.hits("/secret") == 0 and source.connections == 1


# --------------------------------------------------------------------------- the pipeline


def test_refused_links_are_failures_recorded_on_the_article_without_retries(tmp_path, db_url, source, inside):
    """A feed on 127.0.0.2 links to its own host (fetched), to 127.0.0.3 (refused), and to a page
    of its own host that redirects to 127.0.0.3 (refused): the refusal is the article's error, as
    for a page that never loads (its feed title is matched instead), and no retry is spent."""
    base = source.base
    source.route("/own", Response(article_page("Seghrouchni opens the summit", paragraphs())))
    source.route("/moved", Response("", status=302, headers={"Location": inside.url("/moved-secret")}))
    now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    items = [{"title": "Seghrouchni opens the summit", "link": f"{base}/own", "published": now},
             {"title": "Seghrouchni leaks", "link": inside.url("/secret"), "published": now},
             {"title": "Seghrouchni moved", "link": f"{base}/moved", "published": now}]  # fmt: skip
    source.route("/feed.xml", Response(rss_feed(base, items), content_type="application/rss+xml"))
    source.route("/hook", Response("ok", content_type="text/plain"))
    cfg = make_config(
        tmp_path, db_url, [{"name": "Atlas", "feed": source.url("/feed.xml")}], base[7:] + "/hook"
    )

    once(cfg, FAST)
    with db(cfg)() as s:
        rows = {url.rsplit("/", 1)[1]: (status, attempts, error) for url, status, attempts, error in s.execute(
            select(Article.url, Article.status, Article.attempts, Article.last_error))}  # fmt: skip
    assert rows["own"] == (ArticleStatus.DONE, 0, None)
    for name in ("secret", "moved"):
        status, attempts, error = rows[name]
        assert (status, attempts) == (ArticleStatus.DONE, 1), rows[name]  # final at once, matched on its feed title
        assert error == f"page failed ({refused('127.0.0.3')}); stored from the feed's title and summary"
    assert inside.connections == 0
    assert all(SECRET not in json.dumps(p.json()) for p in source.posts("/hook"))

    # Allowed, the same links are fetched.
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'allowed.db'}", [{"name": "Atlas", "feed": source.url(
        "/feed.xml")}], base[7:] + "/hook", fetch={"delay": 0, "allow_private": ["127.0.0.3"]})  # fmt: skip
    once(cfg, FAST)
    assert inside.hits("/secret") == 1 and inside.hits("/moved-secret") == 1


def test_backfill_sitemaps_from_robots_and_indexes_reach_no_other_private_host(tmp_path, source, inside):
    from monitor.backfill.discover import discover_past
    from monitor.runtime import open_runtime

    base = source.base
    source.route("/robots.txt", Response(f"Sitemap: {inside.url('/sitemap.xml')}\nSitemap: {base}/index.xml\n",
                                         content_type="text/plain"))  # fmt: skip
    source.route("/index.xml", Response(
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{inside.url('/child.xml')}</loc></sitemap><sitemap><loc>{base}/own.xml</loc></sitemap>"
        "</sitemapindex>", content_type="application/xml"))  # fmt: skip
    source.route("/own.xml", Response(
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/2025/07/10/a/</loc></url></urlset>", content_type="application/xml"))  # fmt: skip
    source.route("/front/", Response("<html><body></body></html>"))
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'd.db'}", [{"name": "F", "html": source.url("/front/")}],
                      "127.0.0.1:9/hook")  # fmt: skip

    async def run():
        async with open_runtime(cfg, FAST) as rt:
            return await discover_past(rt, cfg.source("F"), datetime(2025, 7, 1, tzinfo=UTC),
                                       datetime(2025, 7, 15, tzinfo=UTC))  # fmt: skip

    found = asyncio.run(run())
    assert [c.url for c in found.candidates] == [f"{base}/2025/07/10/a/"]
    assert sorted(found.errors) == [
        f"sitemap {inside.url('/child.xml')}: {refused('127.0.0.3')}",
        f"sitemap {inside.url('/sitemap.xml')}: {refused('127.0.0.3')}",
    ]
    assert inside.connections == 0
