"""Sitemap parsing: urlsets, indexes, news sitemaps, gzip, text sitemaps, feeds, hostile XML; and the
dates URLs carry."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.dates import url_span, w3c_date
from monitor.sources.candidate import DiscoverError
from monitor.sources.sitemaps import MAX_BYTES, parse_sitemap

TZ = ZoneInfo("Africa/Casablanca")
BASE = "https://news.example/sitemap.xml"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def test_urlset_with_lastmod_and_news_dates():
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS} {NEWS} xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc>https://news.example/a</loc><lastmod>2025-07-04T10:00:00+01:00</lastmod></url>
  <url><loc> /relative/b </loc><lastmod>2025-07-05</lastmod></url>
  <url>
    <loc>https://news.example/c</loc>
    <image:image><image:loc>https://news.example/c.jpg</image:loc><image:title>A photo</image:title></image:image>
    <news:news>
      <news:publication><news:name>News</news:name><news:language>fr</news:language></news:publication>
      <news:publication_date>2025-07-03T23:30:00Z</news:publication_date>
      <news:title>Le centre de donn&#233;es &amp; la ville</news:title>
    </news:news>
  </url>
  <url><lastmod>2025-07-05</lastmod></url>
  <url><loc>mailto:someone@news.example</loc></url>
</urlset>""".encode()
    sitemap = parse_sitemap(body, BASE, TZ)
    assert not sitemap.index
    a, b, c = sitemap.entries
    assert a.loc == "https://news.example/a"
    assert a.lastmod == datetime(2025, 7, 4, 9, 0, tzinfo=UTC)
    assert b.loc == "https://news.example/relative/b"
    assert b.lastmod == datetime(2025, 7, 5, 23, 59, 59, 999999, tzinfo=TZ)  # a day: its last moment
    assert c.published == datetime(2025, 7, 3, 23, 30, tzinfo=UTC)
    assert c.title == "Le centre de données & la ville" and c.lastmod is None


def test_index_without_namespace_and_gzip_by_magic_bytes():
    index = b"""<sitemapindex><sitemap><loc>https://news.example/s1.xml.gz</loc>
    <lastmod>2025-06-30</lastmod></sitemap><sitemap><loc>https://news.example/s2.xml</loc></sitemap></sitemapindex>"""
    sitemap = parse_sitemap(gzip.compress(index), BASE, TZ)
    assert sitemap.index
    assert [e.loc for e in sitemap.entries] == [
        "https://news.example/s1.xml.gz",
        "https://news.example/s2.xml",
    ]
    assert sitemap.entries[1].lastmod is None


def test_text_sitemaps_and_feeds_used_as_sitemaps():
    text = b"\xef\xbb\xbfhttps://news.example/one\n\n  https://news.example/two  \nnot a url\n"
    assert [e.loc for e in parse_sitemap(text, BASE, TZ).entries] == [
        "https://news.example/one",
        "https://news.example/two",
    ]
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
    <item><title>One</title><link>https://news.example/one</link><pubDate>Thu, 03 Jul 2025 09:00:00 GMT</pubDate></item>
    </channel></rss>"""
    (entry,) = parse_sitemap(feed, BASE, TZ).entries
    assert entry.loc == "https://news.example/one" and entry.published == datetime(2025, 7, 3, 9, tzinfo=UTC)
    assert entry.title == "One"


def test_hostile_and_wrong_bodies():
    # Entities are not expanded (billion laughs), external entities not read, no network.
    bomb = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">
    <!ENTITY x SYSTEM "file:///etc/passwd">]><urlset><url><loc>https://news.example/&b;&x;</loc></url></urlset>"""
    (entry,) = parse_sitemap(bomb, BASE, TZ).entries
    assert "aaaa" not in entry.loc and "root" not in entry.loc
    with pytest.raises(DiscoverError, match="root is <html>"):
        parse_sitemap(b"<!DOCTYPE html><html><body>Not found</body></html>", BASE, TZ)
    with pytest.raises(DiscoverError, match="empty"):
        parse_sitemap(b"  \n", BASE, TZ)
    with pytest.raises(DiscoverError, match="neither XML nor a list of URLs"):
        parse_sitemap(b"hello world", BASE, TZ)
    with pytest.raises(DiscoverError, match="corrupt gzip"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage", BASE, TZ)
    huge = gzip.compress(b"<urlset>" + b" " * (MAX_BYTES + 10) + b"</urlset>")
    with pytest.raises(DiscoverError, match="larger than"):
        parse_sitemap(huge, BASE, TZ)
    # A truncated file still gives the entries it holds.
    cut = b"<urlset><url><loc>https://news.example/a</loc></url><url><loc>https://news.exa"
    assert [e.loc for e in parse_sitemap(cut, BASE, TZ).entries][:1] == ["https://news.example/a"]


def test_w3c_dates():
    plus_one = timezone(timedelta(hours=1))
    assert w3c_date("2025-07-01", TZ) == datetime(2025, 7, 1, tzinfo=TZ)
    assert w3c_date("2025-07-01", TZ, latest=True) == datetime(2025, 7, 1, 23, 59, 59, 999999, tzinfo=TZ)
    assert w3c_date("2025-02", TZ, latest=True) == datetime(2025, 2, 28, 23, 59, 59, 999999, tzinfo=TZ)
    assert w3c_date("2025-12", TZ, latest=True).date().isoformat() == "2025-12-31"
    assert w3c_date("2025", TZ) == datetime(2025, 1, 1, tzinfo=TZ)
    assert w3c_date("2025-07-01T10:00+01:00", TZ) == datetime(2025, 7, 1, 10, tzinfo=plus_one)
    assert w3c_date("2025-07-01T10:00:00.123Z", TZ) == datetime(2025, 7, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert w3c_date("2025-07-01T10:00", TZ) == datetime(2025, 7, 1, 10, tzinfo=TZ)  # naive: the source's zone
    assert w3c_date("Tue, 01 Jul 2025 10:00:00 GMT", TZ) == datetime(2025, 7, 1, 10, tzinfo=UTC)
    assert w3c_date("", TZ) is None and w3c_date(None, TZ) is None
    assert w3c_date("soon", TZ) is None


@pytest.mark.parametrize(
    ("url", "first", "last"),
    [
        ("https://x.example/2025/07/03/slug/", "2025-07-03", "2025-07-03"),
        ("https://x.example/news/2025-07-03-slug", "2025-07-03", "2025-07-03"),
        ("https://x.example/a/20250703/slug", "2025-07-03", "2025-07-03"),
        ("https://x.example/2025/07/slug/", "2025-07-01", "2025-07-31"),
        ("https://x.example/news/slug-123456", None, None),
        ("https://x.example/2025/13/45/slug", None, None),
        ("https://x.example/top-2025-10-tips", None, None),  # a month needs /YYYY/MM/ in an article URL
    ],
)
def test_dates_in_urls(url, first, last):
    span = url_span(url, TZ)
    if first is None:
        assert span is None
    else:
        assert (span[0].date().isoformat(), span[1].date().isoformat()) == (first, last)


def test_dates_in_sitemap_file_names():
    assert url_span("https://x.example/sitemap-2025-06.xml", TZ) is None
    span = url_span("https://x.example/sitemap-2025-06.xml", TZ, sitemap=True)
    assert (span[0].day, span[1].day, span[1].month) == (1, 30, 6)
    assert url_span("https://x.example/post-sitemap2.xml", TZ, sitemap=True) is None
