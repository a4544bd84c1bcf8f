"""A topic's Atom 1.0 feed, and conditional GET (ETag / Last-Modified → 304) for it.

Built with ElementTree (escaping is the library's job); characters that XML 1.0 forbids (control
characters that feeds and pages sometimes carry) are dropped, so the feed always parses.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response

from monitor.web.present import highlighted, safe_href
from monitor.web.queries import StoryItem

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ET.register_namespace("", ATOM)


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def feed_updated(stories: list[StoryItem], fallback: datetime | None) -> datetime:
    """The feed's ``updated``: its newest entry's, else ``fallback`` (stable, for the ETag)."""
    times = [s.updated for s in stories]
    return max(times) if times else (fallback or EPOCH)


def atom_feed(
    *,
    topic: str,
    slug: str,
    self_url: str,
    page_url: str,
    story_url: Callable[[int], str],
    stories: list[StoryItem],
    updated: datetime,
) -> bytes:
    """The feed document: one entry per story (its first matched article), newest first."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _add(feed, "id", f"urn:monitor:topic:{slug}")
    _add(feed, "title", f"Latest news with {topic}")
    _add(feed, "updated", _stamp(updated))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(_add(feed, "author"), "name", "monitor")
    _add(feed, "generator", "monitor")
    for story in stories:
        lead = story.lead
        entry = _add(feed, "entry")
        _add(entry, "id", f"urn:monitor:story:{story.story_id}")
        _add(entry, "title", lead.title or lead.url)
        href = safe_href(lead.url)
        if href:
            _add(entry, "link", rel="alternate", type="text/html", href=href)
        _add(entry, "link", rel="related", type="text/html", href=story_url(story.story_id))
        _add(entry, "published", _stamp(lead.when))
        _add(entry, "updated", _stamp(story.updated))
        _add(_add(entry, "author"), "name", lead.outlet)
        _add(entry, "category", term=topic)
        if story.snippet:
            _add(entry, "summary", story.snippet, type="text")
        _add(entry, "content", _content_html(story), type="html")
        source = _add(entry, "source")
        _add(source, "title", lead.outlet)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _content_html(story: StoryItem) -> str:
    # <strong>, not <mark>: feed readers sanitise what they show, and most drop <mark>.
    parts = [f"<p>{highlighted(story.snippet, story.terms, 'strong')}</p>"] if story.snippet else []
    if story.terms:
        parts.append(f"<p>Matched: {escape(', '.join(dict.fromkeys(story.terms)))}</p>")
    outlets = list(dict.fromkeys(a.outlet for a in story.also))
    if outlets:
        parts.append(f"<p>Also reported by: {escape(', '.join(outlets))}</p>")
    return "".join(parts)


def conditional_response(
    request: Request,
    body: bytes,
    last_modified: datetime,
    media_type: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` with ETag and Last-Modified, or an empty 304 when the client already has it."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    stamp = format_datetime(last_modified.astimezone(UTC).replace(microsecond=0), usegmt=True)
    common = {"ETag": etag, "Last-Modified": stamp, "Cache-Control": "private, no-cache", **(headers or {})}
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    wanted = request.headers.get("if-none-match")
    if wanted is not None:
        tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            client = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if client.tzinfo is None:
            client = client.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= client
    return False
