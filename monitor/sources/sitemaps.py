"""Sitemaps parsed into dated entries: the backfill's first way to find past articles.

Formats (sitemaps.org and the Google News extension): ``<urlset>`` (``loc``, ``lastmod``,
``news:publication_date``, ``news:title``), ``<sitemapindex>`` (child sitemaps with their
``lastmod``), plain-text sitemaps (one URL per line) and RSS/Atom feeds used as sitemaps (both
allowed by the protocol). Elements are found by local name, so any namespace (or none) works.

The body is bytes from ``monitor.fetch``; nothing here fetches. Gzip is recognised by its magic
bytes (a ``.xml.gz`` served without Content-Encoding, ``monitor.decode``) and decompressed up to ``MAX_BYTES`` (the
protocol's own limit is 50 MB uncompressed). lxml parses with a hardened parser: no DTD loading,
no entity expansion, no network, no huge trees; ``recover`` keeps what a truncated file holds.

Dates (``monitor.dates.w3c_date``) are W3C datetimes (``2025-07-01``, ``2025-07-01T10:00:00+01:00``, ``2025-07``); a value
without an offset is read in the source's timezone. A ``lastmod`` without a time of day means the
*end* of that day (it is only used to exclude URLs not modified since the range began, so it takes
the latest moment it can mean); a publication date without a time means the start of that day,
as feed dates do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from lxml import etree

from monitor.dates import w3c_date
from monitor.decode import maybe_gunzip
from monitor.sources.candidate import DiscoverError
from monitor.sources.feeds import html_to_text, parse_feed
from monitor.urls import absolute_http, is_feed_item

MAX_BYTES = 50_000_000
_FEED_ROOTS = {"rss", "feed", "rdf"}


@dataclass(frozen=True)
class SitemapEntry:
    """One ``<url>`` of a urlset, or one child ``<sitemap>`` of an index."""

    loc: str  # absolute http(s) URL, as written
    lastmod: datetime | None = None  # aware; a day without time is its last moment
    published: datetime | None = None  # news:publication_date (aware)
    title: str | None = None  # news:title


@dataclass
class Sitemap:
    """A parsed sitemap: an index of child sitemaps, or a list of page URLs."""

    index: bool
    entries: list[SitemapEntry] = field(default_factory=list)


def parse_sitemap(body: bytes, base_url: str, tz: tzinfo) -> Sitemap:
    """Entries of a sitemap, sitemap index, text sitemap or feed; raises DiscoverError when
    ``body`` is none of them. ``base_url`` resolves relative locations, ``tz`` localises naive dates."""
    data = _gunzip(body or b"").lstrip(b"\xef\xbb\xbf \t\r\n")
    if not data:
        raise DiscoverError("not a sitemap: the response is empty")
    if not data.startswith(b"<"):
        return _text_sitemap(data, base_url)
    root = _xml_root(data)
    name = _local(root.tag)
    if name in _FEED_ROOTS:
        entries = [
            SitemapEntry(loc=c.fetch_url, published=c.published, title=c.title)
            for c in parse_feed(data, {}, base_url, tz)
            if not is_feed_item(c.url)  # an item without a link names no page to fetch
        ]
        return Sitemap(index=False, entries=entries)
    if name not in ("urlset", "sitemapindex"):
        raise DiscoverError(f"not a sitemap: the XML root is <{name}>")
    index = name == "sitemapindex"
    item = "sitemap" if index else "url"
    entries = []
    for element in root:
        if _local(element.tag) == item:
            entry = _entry(element, base_url, tz)
            if entry is not None:
                entries.append(entry)
    return Sitemap(index=index, entries=entries)


# --------------------------------------------------------------------------- helpers


def _gunzip(body: bytes) -> bytes:
    limit = f"{MAX_BYTES // 1_000_000} MB"
    data = maybe_gunzip(
        body,
        MAX_BYTES,
        corrupt="not a sitemap: corrupt gzip data",
        too_large=f"not a usable sitemap: larger than {limit} uncompressed",
        error=DiscoverError,
    )
    if len(data) > MAX_BYTES:  # not gzipped
        raise DiscoverError(f"not a usable sitemap: larger than {limit}")
    return data


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )


def _xml_root(data: bytes) -> etree._Element:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise DiscoverError(f"not a sitemap: invalid XML ({' '.join(str(exc).split())})") from None
    if root is None:
        raise DiscoverError("not a sitemap: no XML content")
    return root


def _local(tag: object) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _entry(element: etree._Element, base_url: str, tz: tzinfo) -> SitemapEntry | None:
    loc = absolute_http(_child_text(element, "loc"), base_url)
    if loc is None:
        return None
    published = title = None
    for child in element:
        if _local(child.tag) == "news":  # <news:news><news:publication_date>, <news:title>
            published = w3c_date(_descendant_text(child, "publication_date"), tz)
            title = html_to_text(_descendant_text(child, "title"))
            break
    return SitemapEntry(
        loc=loc, lastmod=w3c_date(_child_text(element, "lastmod"), tz, latest=True), published=published,
        title=title,
    )  # fmt: skip


def _descendant_text(element: etree._Element, name: str) -> str | None:
    for child in element.iter():
        if child is not element and _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def _text_sitemap(data: bytes, base_url: str) -> Sitemap:
    if b"\x00" in data[:4096]:
        raise DiscoverError("not a sitemap: binary content")
    text = data.decode("utf-8", "replace")
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith(("http://", "https://")):
            url = absolute_http(line, base_url)
            if url:
                entries.append(SitemapEntry(loc=url))
    if not entries:
        raise DiscoverError("not a sitemap: neither XML nor a list of URLs")
    return Sitemap(index=False, entries=entries)
