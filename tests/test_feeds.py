"""parse_feed on small hand-written feeds (RSS 0.91/1.0/2.0, Atom, JSON Feed) and non-feeds."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from monitor.dates import is_naive_date, parse_date
from monitor.sources.candidate import DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.urls import is_feed_item

CASA = ZoneInfo("Africa/Casablanca")
PARIS = ZoneInfo("Europe/Paris")
FEED_URL = "https://news.example.ma/rss/feed.xml"
XML = {"content-type": "application/rss+xml; charset=utf-8"}


def rss(items: str, extra_ns: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" {extra_ns}>
<channel><title>News</title><link>https://news.example.ma/</link><description>d</description>
{items}
</channel></rss>""".encode()


def item(
    link: str | None = "https://news.example.ma/a/first-story", *, title="First story", date=None, guid=None
):
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(guid)
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


def test_rss2_basic_fields():
    body = rss(
        """<item><title>Morocco &amp; AI: a &lt;b&gt;new&lt;/b&gt; plan</title>
        <link>https://news.example.ma/2024/05/morocco-ai-plan/?utm_source=rss&amp;utm_medium=feed</link>
        <guid isPermaLink="false">post-123</guid>
        <description>&lt;p&gt;The ministry   announced &lt;a href="/x"&gt;a plan&lt;/a&gt;.&lt;/p&gt;</description>
        <pubDate>Wed, 01 May 2024 10:30:00 +0000</pubDate>
        <dc:creator>Amina B.</dc:creator></item>"""
    )
    [cand] = parse_feed(body, XML, FEED_URL, CASA)
    assert cand.url == "https://news.example.ma/2024/05/morocco-ai-plan/"
    assert cand.fetch_url == "https://news.example.ma/2024/05/morocco-ai-plan/?utm_source=rss&utm_medium=feed"
    assert cand.guid == "post-123"
    assert cand.title == "Morocco & AI: a new plan"
    assert cand.summary == "The ministry announced a plan."
    assert cand.published == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert cand.author == "Amina B."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Wed, 01 May 2024 10:30:00 GMT", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("Wed, 01 May 2024 10:30:00 +0200", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("Wed, 01 May 2024 10:30:00", datetime(2024, 5, 1, 10, 30, tzinfo=PARIS)),  # naive
        ("2024-05-01T10:30:00Z", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00+01:00", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00", datetime(2024, 5, 1, 10, 30, tzinfo=PARIS)),  # naive ISO
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=PARIS)),  # date only
        ("Sat, Dec 16 2023 02:02:33 PM", datetime(2023, 12, 16, 14, 2, 33, tzinfo=PARIS)),
        ("Thu,28 Jul 2022 4:35:5 GMT+9", datetime(2022, 7, 27, 19, 35, 5, tzinfo=UTC)),
        ("Wed, 01 May 2024 10:30:00 CEST", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("mercredi 1 mai 2024 10:30", datetime(2024, 5, 1, 10, 30, tzinfo=PARIS)),  # French, naive
        ("1 mai 2024 10:30 +0100", datetime(2024, 5, 1, 9, 30, tzinfo=UTC)),
        ("الأربعاء 1 مايو 2024 - 10:30", datetime(2024, 5, 1, 10, 30, tzinfo=PARIS)),  # Arabic
    ],
)
def test_entry_dates(raw, expected):
    [cand] = parse_feed(rss(item(date=raw)), XML, FEED_URL, PARIS)
    assert cand.published is not None and cand.published.tzinfo is not None
    assert cand.published == expected, (raw, cand.published)


def test_naive_date_keeps_wall_clock_in_source_timezone():
    [cand] = parse_feed(rss(item(date="Wed, 01 May 2024 10:30:00")), XML, FEED_URL, CASA)
    assert cand.published.utcoffset() == timedelta(hours=1)  # Casablanca in May 2024
    assert (cand.published.hour, cand.published.minute) == (10, 30)


def test_unparseable_date_is_none():
    [cand] = parse_feed(rss(item(date="sometime last week-ish ???")), XML, FEED_URL, CASA)
    assert cand.published is None


def test_is_naive_date():
    assert is_naive_date("2024-05-01 10:00")
    assert is_naive_date("Wed, 01 May 2024 10:30:00")
    assert is_naive_date("2024-05-01")
    assert not is_naive_date("2024-05-01T10:00:00+01:00")
    assert not is_naive_date("2024-05-01T10:00:00Z")
    assert not is_naive_date("Wed, 01 May 2024 10:30:00 GMT")
    assert not is_naive_date("Wed, 01 May 2024 10:30:00 -0500")


def test_parse_date_for_other_callers():
    assert parse_date("2024-05-01T10:30:00+02:00", CASA) == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    assert parse_date("2024-05-01 10:30", CASA).tzinfo is CASA
    assert parse_date("", CASA) is None


def test_relative_links_resolved_against_feed_url():
    body = rss(item("/2024/05/relative-story") + item("other-story", title="Other"))
    cands = parse_feed(body, XML, FEED_URL, CASA)
    assert [c.fetch_url for c in cands] == [
        "https://news.example.ma/2024/05/relative-story",
        "https://news.example.ma/rss/other-story",
    ]


def test_entries_without_link_are_kept_by_their_text_and_guid_url_is_used(caplog):
    body = rss(
        item(None, title="No link at all")
        + item(None, title="Guid only", guid="<guid>https://news.example.ma/p/guid-only</guid>")
        + item(None, title="Tag guid", guid='<guid isPermaLink="false">tag:news.example.ma,2024:7</guid>')
        + item("https://news.example.ma/p/normal", title="Normal")
        + '<item><guid isPermaLink="false">empty-1</guid></item><item><description> </description></item>'
    )
    with caplog.at_level(logging.INFO, logger="monitor.sources.feeds"):
        cands = parse_feed(body, XML, FEED_URL, CASA)
    assert [c.title for c in cands] == ["No link at all", "Guid only", "Tag guid", "Normal"]
    assert cands[1].url == "https://news.example.ma/p/guid-only"
    # no page: named after the site the feed describes (its <link>), with a fragment of its own
    no_link, tag = cands[0], cands[2]
    assert is_feed_item(no_link.url) and is_feed_item(tag.url) and no_link.url != tag.url
    assert no_link.url.startswith("https://news.example.ma/#monitor-feed-item-")
    assert tag.guid == "tag:news.example.ma,2024:7" and tag.fetch_url == tag.url
    # the same item keeps its identity from one poll to the next, and per feed
    again = parse_feed(body, XML, FEED_URL, CASA)
    assert [c.url for c in again] == [c.url for c in cands]
    other = parse_feed(body, XML, "https://news.example.ma/rss/sport.xml", CASA)
    assert other[2].url != tag.url
    # what is skipped is said, with why
    assert "2 item(s) skipped: no link, no title and no summary (GUIDs: empty-1)" in caplog.text


def test_duplicates_by_canonical_url_are_dropped_keeping_the_first():
    body = rss(
        item("https://news.example.ma/p/story", title="one")
        + item("https://NEWS.example.ma/p/story?utm_campaign=x#top", title="two")
        + item("https://news.example.ma/p/another", title="three")
    )
    cands = parse_feed(body, XML, FEED_URL, CASA)
    assert [c.title for c in cands] == ["one", "three"]


def test_rss_091_and_rdf_feeds():
    rss091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>t</title>
    <link>http://old.example/</link><description>d</description>
    <item><title>Old school</title><link>http://old.example/news/1.html</link></item>
    </channel></rss>"""
    rdf = b"""<?xml version="1.0"?>
    <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
      xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel rdf:about="http://rdf.example/"><title>t</title><link>http://rdf.example/</link></channel>
      <item rdf:about="http://rdf.example/a/1"><title>RDF item</title><link>http://rdf.example/a/1</link>
        <dc:date>2024-02-03T04:05:06+00:00</dc:date></item>
    </rdf:RDF>"""
    [old] = parse_feed(rss091, {"content-type": "text/xml"}, "http://old.example/rss", CASA)
    assert old.url == "http://old.example/news/1.html" and old.title == "Old school"
    [new] = parse_feed(rdf, {"content-type": "application/rdf+xml"}, "http://rdf.example/rss", CASA)
    assert new.published == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_atom_alternate_link_xml_base_and_ids():
    body = b"""<?xml version="1.0" encoding="utf-8"?>
    <feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/">
      <title>Blog</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
      <entry><title type="html">&lt;em&gt;Alt&lt;/em&gt; link</title><id>tag:blog.example,2024:1</id>
        <link rel="self" href="https://blog.example/api/1"/>
        <link rel="alternate" type="text/html" href="posts/alt-link"/>
        <updated>2024-01-02T03:04:05+01:00</updated><author><name>Ann</name></author>
        <summary>Short</summary></entry>
      <entry><title>Tag link only</title><id>tag:blog.example,2024:2</id>
        <link href="tag:blog.example,2024:2"/></entry>
    </feed>"""
    cands = parse_feed(body, {"content-type": "application/atom+xml"}, "https://blog.example/feed", CASA)
    assert len(cands) == 2 and cands[1].title == "Tag link only" and is_feed_item(cands[1].url)
    cand = cands[0]
    assert cand.url == "https://blog.example/posts/alt-link"
    assert cand.title == "Alt link" and cand.author == "Ann" and cand.summary == "Short"
    assert cand.guid == "tag:blog.example,2024:1"
    assert cand.published == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)


def test_charset_from_content_type_and_prolog():
    text = rss(item(title="Énergie à Marrakech")).decode("utf-8")
    latin = text.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("iso-8859-1")
    [cand] = parse_feed(latin, {"content-type": "application/xml; charset=iso-8859-1"}, FEED_URL, CASA)
    assert cand.title == "Énergie à Marrakech"
    # no charset in the header: the XML prolog decides
    [cand] = parse_feed(latin, {"content-type": "application/xml"}, FEED_URL, CASA)
    assert cand.title == "Énergie à Marrakech"


def test_arabic_feed_and_arabic_slug():
    slug = "السغروشني-تطلق-برنامج"
    body = rss(item(f"https://ar.example.ma/{slug}", title="السغروشني تطلق برنامجا"))
    [cand] = parse_feed(body, XML, FEED_URL, CASA)
    assert cand.title == "السغروشني تطلق برنامجا"
    assert cand.fetch_url == f"https://ar.example.ma/{slug}"
    assert cand.url.startswith("https://ar.example.ma/%D8%A7%D9%84")


def test_bozo_feed_with_entries_is_accepted():
    body = rss(item("https://x.example/good", title="Good") + "<item><title>Bad & broken</title>"
               "<link>https://x.example/bad</link></item>")  # fmt: skip
    cands = parse_feed(body, XML, FEED_URL, CASA)
    assert [c.url for c in cands] == ["https://x.example/good", "https://x.example/bad"]


def test_gzip_body_without_content_encoding():
    body = gzip.compress(rss(item("https://x.example/gz", title="Zipped")))
    [cand] = parse_feed(body, {"content-type": "application/x-gzip"}, FEED_URL, CASA)
    assert cand.title == "Zipped"


def test_valid_empty_feed_gives_no_candidates():
    assert parse_feed(rss(""), XML, FEED_URL, CASA) == []


def jsonfeed(version: str, items: list[dict], **top) -> bytes:
    return json.dumps({"version": version, "title": "J", "items": items, **top}).encode()


def test_json_feed_1_1():
    body = jsonfeed(
        "https://jsonfeed.org/version/1.1",
        [
            {
                "id": "1",
                "url": "https://j.example/2024/01/json-story?utm_source=feed",
                "title": "JSON story",
                "summary": "Sum",
                "date_published": "2024-01-02T03:04:05-05:00",
                "authors": [{"name": "Bo"}, {"name": "Al"}],
            },
            {
                "id": "2",
                "url": "/relative/two",
                "content_html": "<p>Two <b>html</b></p>",
                "date_published": "2024-01-02T10:00:00",
            },
            {"id": "3", "content_text": "no url here"},
            {"id": "https://j.example/three", "title": "id is a URL"},
        ],
    )
    cands = parse_feed(body, {"content-type": "application/feed+json"}, "https://j.example/feed.json", CASA)
    assert [c.url for c in cands if not is_feed_item(c.url)] == [
        "https://j.example/2024/01/json-story",
        "https://j.example/relative/two",
        "https://j.example/three",
    ]
    first, second, no_url, _ = cands  # an item without a URL: its text is the article
    assert no_url.url.startswith("https://j.example/feed.json#monitor-feed-item-")
    assert no_url.summary == "no url here" and no_url.guid == "3"
    assert first.published == datetime(2024, 1, 2, 8, 4, 5, tzinfo=UTC)
    assert first.author == "Bo, Al" and first.guid == "1" and first.summary == "Sum"
    assert second.summary == "Two html"
    assert second.published == datetime(2024, 1, 2, 10, 0, tzinfo=CASA)


def test_json_feed_1_0_author_and_external_url():
    body = jsonfeed(
        "https://jsonfeed.org/version/1",
        [{"id": 7, "external_url": "https://else.example/x", "title": "Ext", "author": {"name": "Cy"}}],
    )
    [cand] = parse_feed(body, {"content-type": "application/json"}, "https://j.example/feed.json", CASA)
    assert cand.url == "https://else.example/x" and cand.author == "Cy" and cand.guid == "7"


@pytest.mark.parametrize(
    ("body", "headers", "why"),
    [
        (b"", {}, "empty"),
        (b"   \n", XML, "empty"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><a href='/x'>x</a></body></html>",
            {"content-type": "text/html; charset=utf-8"},
            "the response is an HTML page (text/html)",
        ),
        (b"<html><body>hi</body></html>", XML, "HTML page (application/rss+xml)"),
        (b"\x00\x01garbage\xff\xfe not xml", {"content-type": "application/octet-stream"}, "not a feed"),
        (b"<catalog><book>x</book></catalog>", {"content-type": "text/xml"}, "no RSS, Atom or JSON Feed"),
        (b'{"hello": "world"}', {"content-type": "application/json"}, "JSON without a JSON Feed version"),
        (b"{not json", {"content-type": "application/json"}, "invalid JSON"),
        (b"\x1f\x8b\x08\x00broken", {}, "corrupt gzip"),
    ],
)
def test_not_a_feed_raises_one_line_reason(body, headers, why):
    with pytest.raises(DiscoverError) as info:
        parse_feed(body, headers, FEED_URL, CASA)
    message = str(info.value)
    assert message.startswith("not a feed: ") and "\n" not in message
    assert why in message


def test_aware_dates_everywhere_with_fixed_offset_tz():
    tz = timezone(timedelta(hours=3))
    [cand] = parse_feed(rss(item(date="2024-05-01 10:30")), XML, FEED_URL, tz)
    assert cand.published == datetime(2024, 5, 1, 7, 30, tzinfo=UTC)
