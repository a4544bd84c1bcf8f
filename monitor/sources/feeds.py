"""Candidates from a fetched feed: RSS 0.9x/1.0/2.0 and Atom (feedparser on bytes), JSON Feed.

feedparser only ever sees bytes wrapped in a stream, never a URL or a path, so it fetches nothing.
Dates are read by ``monitor.dates`` (feedparser's parse, else dateparser; a date with no offset
is wall-clock time in the source's timezone); gzip and the charset by ``monitor.decode`` (an
undeclared windows-1256 feed is read as pages are, not as windows-1252).

An item without a link (nor a GUID that is a URL) is kept when it has a title or a summary: its
identity is ``urls.feed_item_url`` (the site's home page, from the feed's own link, with a
fragment hashing the feed and the item's GUID, else its title and summary), and the pipeline
matches its feed text, as it does for a page that never loads. An item with neither is skipped,
and the skip is logged.
"""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime, tzinfo
from typing import Any

import feedparser
import lxml.html
from lxml import etree

from monitor.dates import feed_field_date, parse_date
from monitor.decode import feed_as_utf8, header_charset, maybe_gunzip
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.urls import absolute_http, canonical_url, feed_item_url, redact_url

log = logging.getLogger(__name__)

MAX_DECOMPRESSED = 20_000_000
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/\d", re.I)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
_TAGLIKE = re.compile(r"<[a-zA-Z/!]")


def parse_feed(
    body: bytes, headers: dict[str, str], base_url: str, tz: tzinfo, *, feed_url: str | None = None
) -> list[Candidate]:
    """Candidate articles of an RSS, Atom or JSON feed, deduplicated by canonical URL, in feed order.

    ``headers`` are the response headers (content-type gives the charset); ``base_url`` resolves
    relative links; ``tz`` localises naive dates; ``feed_url`` (the configured URL, default
    ``base_url``) names the feed in the identity of items without a link. Raises DiscoverError
    when ``body`` is not a feed.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    body = maybe_gunzip(
        body or b"",
        MAX_DECOMPRESSED,
        corrupt="not a feed: corrupt gzip data",
        too_large=f"not a feed: gzip data larger than {MAX_DECOMPRESSED // 1_000_000} MB",
        error=DiscoverError,
    )
    if not body.strip():
        raise DiscoverError("not a feed: the response is empty")
    items = _Items(base_url, feed_url or base_url, tz)
    if _looks_like_json(body, headers):
        entries = _json_feed_entries(body, items)
    else:
        entries = _xml_feed_entries(body, headers, items)
    items.log_skipped()
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for cand in entries:
        if cand.url not in seen:
            seen.add(cand.url)
            candidates.append(cand)
    return candidates


class _Items:
    """What turning one feed's items into candidates needs: where links resolve, what names the
    feed, the timezone; and the items skipped, logged once per feed."""

    def __init__(self, base_url: str, feed_url: str, tz: tzinfo) -> None:
        self.base_url, self.feed_url, self.tz = base_url, feed_url, tz
        self.home = base_url  # the site the feed describes, once the feed says
        self.skipped: list[str] = []

    def candidate(
        self, link: str | None, guid: str | None, title: str | None, summary: str | None, **more: Any
    ) -> Candidate | None:
        """The item's candidate; an item without a link is named by its feed text, if any."""
        if link is not None:
            url = canonical_url(link)
        elif title or summary:
            url = link = feed_item_url(self.home, self.feed_url, guid or f"{title}\n{summary}")
        else:
            self.skipped.append(guid or "")
            return None
        return Candidate(url=url, fetch_url=link, guid=guid, title=title, summary=summary, **more)

    def log_skipped(self) -> None:
        if self.skipped:
            guids = ", ".join(g for g in self.skipped[:5] if g) or "none"
            log.info(
                "feed %s: %d item(s) skipped: no link, no title and no summary (GUIDs: %s)",
                redact_url(self.feed_url), len(self.skipped), guids,
            )  # fmt: skip


# --------------------------------------------------------------------------- RSS / Atom


def _xml_feed_entries(body: bytes, headers: dict[str, str], items: _Items) -> list[Candidate]:
    response_headers = {k: v for k, v in headers.items() if k == "content-language"}
    # One charset policy (monitor.decode): feedparser gets UTF-8 and is told so.
    body = feed_as_utf8(body, header_charset(headers))
    mime = headers.get("content-type", "").split(";")[0].strip() or "application/xml"
    response_headers["content-type"] = f"{mime}; charset=utf-8"
    response_headers["content-location"] = items.base_url
    parsed = feedparser.parse(
        io.BytesIO(body),  # a stream: feedparser must never treat the body as a URL or a file name
        response_headers=response_headers,
        resolve_relative_uris=False,
        sanitize_html=False,
    )
    if not parsed.entries:
        if parsed.get("version"):
            return []  # a real feed with no entries right now
        raise DiscoverError(_why_not_a_feed(body, headers, parsed))
    items.home = absolute_http(parsed.feed.get("link"), items.base_url) or items.base_url
    out = []
    for entry in parsed.entries:
        cand = _entry_candidate(entry, items)
        if cand is not None:
            out.append(cand)
    return out


def _entry_candidate(entry: Any, items: _Items) -> Candidate | None:
    summary = entry.get("summary")
    if not summary and entry.get("content"):
        summary = entry.content[0].get("value")
    return items.candidate(
        _entry_link(entry, items.base_url),
        _text(entry.get("id")) or None,
        html_to_text(entry.get("title")),
        html_to_text(summary),
        published=_entry_date(entry, items.tz),
        author=_text(entry.get("author")) or None,
    )


def _entry_link(entry: Any, base_url: str) -> str | None:
    """entry.link, else an alternate link, else any non-enclosure link, else the guid if a URL."""
    choices = [entry.get("link")]
    links = entry.get("links") or []
    choices += [ln.get("href") for ln in links if ln.get("rel", "alternate") == "alternate"]
    choices += [ln.get("href") for ln in links if ln.get("rel") not in ("enclosure", "self", "replies")]
    if _is_http(entry.get("id")):
        choices.append(entry.get("id"))
    for choice in choices:
        url = absolute_http(choice, base_url)
        if url:
            return url
    return None


def _why_not_a_feed(body: bytes, headers: dict[str, str], parsed: Any) -> str:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower() or "no content type"
    head = body[:2048].lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(head) or (b"<html" in head.lower() and b"<rss" not in head.lower()):
        return f"not a feed: the response is an HTML page ({ctype})"
    exc = parsed.get("bozo_exception")
    if exc is not None:
        return f"not a feed: the {ctype} response does not parse as RSS or Atom ({_one_line(exc)})"
    return f"not a feed: no RSS, Atom or JSON Feed content in the {ctype} response"


# --------------------------------------------------------------------------- JSON Feed


def _looks_like_json(body: bytes, headers: dict[str, str]) -> bool:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return start in (b"{", b"[") or ("json" in headers.get("content-type", "") and start != b"<")


def _json_feed_entries(body: bytes, items: _Items) -> list[Candidate]:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise DiscoverError(f"not a feed: invalid JSON ({_one_line(exc)})") from None
    if not isinstance(data, dict) or not _JSON_FEED_VERSION.match(str(data.get("version", ""))):
        raise DiscoverError("not a feed: JSON without a JSON Feed version (https://jsonfeed.org/version/1.1)")
    entries = data.get("items")
    if not isinstance(entries, list):
        raise DiscoverError("not a feed: JSON Feed without an 'items' list")
    items.base_url = absolute_http(data.get("feed_url"), items.base_url) or items.base_url
    items.home = absolute_http(data.get("home_page_url"), items.base_url) or items.base_url
    out = []
    for item in entries:
        if isinstance(item, dict):
            cand = _json_item_candidate(item, items)
            if cand is not None:
                out.append(cand)
    return out


def _json_item_candidate(item: dict[str, Any], items: _Items) -> Candidate | None:
    guid = _text(item.get("id")) or None
    link = None
    for choice in (item.get("url"), item.get("external_url"), guid if _is_http(guid) else None):
        link = absolute_http(choice, items.base_url)
        if link:
            break
    summary = item.get("summary") or item.get("content_text") or item.get("content_html")
    authors = item.get("authors") if isinstance(item.get("authors"), list) else [item.get("author")]
    names = [a.get("name") for a in authors if isinstance(a, dict) and a.get("name")]
    raw_date = item.get("date_published") or item.get("date_modified")
    return items.candidate(
        link,
        guid,
        html_to_text(_text(item.get("title"))),
        html_to_text(_text(summary)),
        published=parse_date(_text(raw_date), items.tz) if raw_date else None,
        author=", ".join(_text(n) for n in names) or None,
    )


# --------------------------------------------------------------------------- dates


def _entry_date(entry: Any, tz: tzinfo) -> datetime | None:
    """The entry's publication date, else its update or creation date."""
    for key in ("published", "updated", "created"):
        raw = _text(dict.get(entry, key))  # dict.get: skip feedparser's deprecated key mapping
        found = feed_field_date(raw, dict.get(entry, f"{key}_parsed"), tz)
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- helpers


def html_to_text(value: str | None) -> str | None:
    """Plain text with collapsed whitespace from a title or summary that may hold HTML."""
    if not value:
        return None
    text = value
    if _TAGLIKE.search(value):
        try:
            text = lxml.html.fragment_fromstring(value, create_parent="div").text_content()
        except (etree.ParserError, ValueError):
            text = value
    return " ".join(text.split()) or None


def _is_http(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(("http://", "https://"))


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())
