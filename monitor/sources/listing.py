"""An HTML listing page (a section front, a "latest news" page): its article links, its next
page and the dates shown beside its links.

:func:`read_listing` decodes the page once (``monitor.decode``: the same charset policy as article
pages), refuses what is not HTML with a clear message, and chooses its article links
(``monitor.sources.links``). Live polling keeps the candidates; a backfill also follows
:func:`next_page` and reads :func:`listing_dates` on the same parsed document, so a page reads
the same in both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from monitor.dates import parse_date
from monitor.decode import html_document_text
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.links import article_links
from monitor.urls import canonical_url

_HTML_MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|a|div|p|span|table|ul|h[1-6]|title|meta)\b", re.I
)
_FEED_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.I | re.S)


@dataclass
class ListingPage:
    """A parsed listing page: its article candidates, and the document for pagination and dates."""

    candidates: list[Candidate]
    doc: lxml.html.HtmlElement
    base: str  # what relative links resolve against (the page URL, or its <base href>)


def read_listing(
    body: bytes, headers: dict[str, str], base_url: str, selector: str | None = None
) -> ListingPage:
    """Parse a listing page and choose its article links (see ``article_links``). Raises
    DiscoverError when ``body`` is not HTML or the selector is invalid or matches no link."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    doc = _parse_html(body or b"", headers)
    base = _document_base(doc, base_url)
    return ListingPage(article_links(doc, base, base_url, selector), doc, base)


def parse_listing(
    body: bytes, headers: dict[str, str], base_url: str, selector: str | None = None
) -> list[Candidate]:
    """Article candidates linked from an HTML page, deduplicated by canonical URL, in page order
    (:func:`read_listing`'s candidates)."""
    return read_listing(body, headers, base_url, selector).candidates


# --------------------------------------------------------------------------- pagination and dates


# Link labels (lower case, arrows and spaces trimmed) that lead to the next, older page.
_NEXT_WORDS = {
    "next", "next page", "older", "older posts", "older entries", "older articles", "load more",
    "suivant", "suivante", "page suivante", "articles plus anciens", "articles précédents",
    "التالي", "الصفحة التالية", "الأقدم",
}  # fmt: skip
_ARROWS = " »›→>"
_NEXT_ARROWS = {"»", "›", "→", ">", ">>"}  # last resort: "»" may also mean the last page


def _labels(anchor: lxml.html.HtmlElement) -> list[str]:
    values = (anchor.text_content(), anchor.get("aria-label"), anchor.get("title"))
    return [" ".join(v.split()).lower() for v in values if v and v.strip()]


def next_page(doc: lxml.html.HtmlElement, base: str, page_no: int, visited: set[str]) -> str | None:
    """The listing's next page: ``rel=next``, then a link saying Next (Suivant, التالي…), then a
    link to page ``page_no + 1`` (``/page/N``, ``?page=N``, ``?paged=N``), then a › or » link."""

    def usable(href: str | None) -> str | None:
        if not href or href.startswith(("#", "javascript:")):
            return None
        url = urljoin(base, href.strip())
        fresh = urlsplit(url).scheme in ("http", "https") and canonical_url(url) not in visited
        return url if fresh else None

    for element in doc.xpath('//link[@href][contains(concat(" ", normalize-space(@rel), " "), " next ")]'):
        if url := usable(element.get("href")):
            return url
    anchors = [a for a in doc.iter("a") if a.get("href")]
    for a in anchors:
        if "next" in (a.get("rel") or "").lower().split() and (url := usable(a.get("href"))):
            return url
    for a in anchors:
        if any(label.strip(_ARROWS) in _NEXT_WORDS for label in _labels(a)) and (
            url := usable(a.get("href"))
        ):
            return url
    wanted = page_no + 1
    pattern = re.compile(rf"(?:/page/{wanted}/?$|[?&](?:page|paged|p|pg)={wanted}(?:&|$))", re.I)
    for a in anchors:
        url = usable(a.get("href"))
        if url and pattern.search(url.split("#", 1)[0]):
            return url
    for a in anchors:
        if any(label in _NEXT_ARROWS for label in _labels(a)) and (url := usable(a.get("href"))):
            return url
    return None


def listing_dates(
    doc: lxml.html.HtmlElement, base: str, wanted: set[str], tz: tzinfo
) -> dict[str, tuple[datetime, datetime]]:
    """Dates shown next to article links (canonical URLs in ``wanted``) on a listing page, as
    [moment, moment] spans: the ``<time>`` (or ``itemprop=datePublished``) in the smallest block
    around the link that holds no other article. A date without an offset is read in ``tz``."""
    dates: dict[str, tuple[datetime, datetime]] = {}
    for anchor in doc.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        url = canonical_url(urljoin(base, href.strip()))
        if url not in wanted or url in dates:
            continue
        block = anchor
        for _ in range(5):
            block = block.getparent()
            if block is None or block.tag in ("body", "html"):
                break
            links = {canonical_url(urljoin(base, h)) for h in block.xpath(".//a/@href")} & wanted
            if len(links) > 1:
                break  # the block holds other articles: its dates are not this one's
            found = _block_date(block, tz)
            if found is not None:
                dates[url] = found
                break
    return dates


def _block_date(block: lxml.html.HtmlElement, tz: tzinfo) -> tuple[datetime, datetime] | None:
    for element in block.xpath(
        './/time | .//*[@itemprop="datePublished"][@datetime or @content] | .//*[@datetime]'
    ):
        raw = element.get("datetime") or element.get("content") or element.text_content()
        moment = parse_date(raw or "", tz) if raw and raw.strip() else None
        if moment is not None:
            return moment, moment
    return None


# --------------------------------------------------------------------------- parsing


def _parse_html(body: bytes, headers: dict[str, str]) -> lxml.html.HtmlElement:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower() or "no content type"
    if not body.strip():
        raise DiscoverError("not an HTML page: the response is empty")
    head = body[:4096]
    if _FEED_ROOT.match(head.lstrip(b"\xef\xbb\xbf")):
        raise DiscoverError(f"not an HTML page: the response is an RSS/Atom feed ({ctype}); use 'feed:'")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        raise DiscoverError(f"not an HTML page: the response is JSON ({ctype})")
    if ctype.startswith(("image/", "audio/", "video/", "font/")) or ctype in (
        "application/pdf",
        "application/zip",
    ):
        raise DiscoverError(f"not an HTML page: the response is {ctype}")
    if b"\x00" in head or not _HTML_MARKUP.search(body[:200_000]):
        raise DiscoverError(f"not an HTML page: no HTML markup in the {ctype} response")
    try:
        return lxml.html.document_fromstring(html_document_text(body, headers))
    except (etree.ParserError, ValueError) as exc:
        raise DiscoverError(f"not an HTML page: {' '.join(str(exc).split())}") from None


def _document_base(doc: lxml.html.HtmlElement, base_url: str) -> str:
    for base in doc.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            joined = urljoin(base_url, href)
            if urlsplit(joined).scheme in ("http", "https"):
                return joined
    return base_url
