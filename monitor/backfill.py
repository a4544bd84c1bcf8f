"""Backfill: what each source published in a past date range, through the live pipeline.

``monitor backfill --from DATE --to DATE`` finds past articles per source, stores and matches them
exactly as live polling does (politeness, robots.txt, extraction, dedupe by canonical URL against
everything stored, matching, story clustering), marks them ``origin='backfill'``, and alerts only
when asked.

**Discovery**, per source, in this order (:func:`discover_past`):

1. *sitemaps*: the source's ``sitemap:``, else those robots.txt lists, else ``/sitemap.xml``
   (then ``/sitemap_index.xml``, ``/wp-sitemap.xml``). Indexes are walked (depth and count
   limits); a child sitemap whose ``lastmod`` is before the range, or whose URL names a month or
   day before it, is not fetched (nothing in it changed since).
2. *paginated HTML listing* (``html:`` sources): the page, then its next page (``rel=next``, a
   "Next / Suivant / التالي / › / »" link, or a ``/page/N+1`` / ``?page=N+1`` link), until a page
   brings no date in the range or after it while some are before it, no new link, or the page cap.
3. *paginated feed* (``feed:`` sources): the feed, then ``?paged=2, 3 …`` (WordPress), until a
   404 or error, an empty page, a page repeating earlier entries, or a page with entries older
   than the range.

The first method that finds candidates and reaches back to the start of the range is used; one
that finds candidates but only recent ones (a news sitemap holds two days) is completed by the
next. The summary names the method(s) and the candidate count.

**Dates.** The range is inclusive and read in the config's ``timezone`` (``--to`` a bare date is
the end of that day). An exact date (a feed entry's, a news sitemap's publication date) decides
at discovery, and is stored as the article's date (it beats the page's, as in live polling). A
``lastmod`` only excludes a URL modified before the range began (published ≤ modified). Dates
shown next to links on a listing page and dates in URL paths (``/2025/07/03/``) are approximate:
they exclude a URL only when more than a day off the range. Everything else is a candidate whose
page date decides after the fetch: out of range, it is set aside (status ``out_of_range``, the date
kept, so a later backfill of a wider range takes it again); with no date at all (feed, sitemap,
page), it is set aside as ``undated`` and counted so (a backfill cannot say it is in the range).

**Resumable and idempotent.** Candidates are stored (``store_candidates(origin="backfill")``,
deduplicated against live and earlier backfill rows) before any page is fetched; each article is
then processed in its own transaction. Interrupted and run again, the backfill re-discovers
(cheap, deduplicated) and processes the backfill rows still pending, so it ends as an uninterrupted
run would. Live polling never processes a backfill's pending rows (it would alert them); it takes
back a row whose URL it discovers itself.

**Topics.** Articles are matched against every topic, or only the ``--topic`` ones: the matcher
of the run holds just those, and only their matches are stored (later, ``monitor topics rematch``
fills in other topics). Articles already stored with a date in the range (by live polling or an
earlier backfill) are matched again for the run's topics, adding only the matches they lack, so a
topic added today finds last month's stored articles too. With ``--topic`` and no ``--source``,
the sources are those the topics are restricted to (``sources:``), or all.

**Alerts.** Outbox rows of a backfill are ``skipped`` (never sent by the daemon). With
``--notify``, at the end, every skipped backfill row of the run's sources, topics and range goes
out as ONE digest message per channel (grouped by topic then story; more than 500 stories take
several messages), and the rows are marked sent. A story already alerted gets no row at all (one
row per topic, story and channel), so nothing is sent for it. A failed digest leaves its rows
skipped: run the backfill again with ``--notify``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import lxml.html
from lxml import etree
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor.alerts.outbox import BUNDLE_MAX, enqueue
from monitor.alerts.render import BatchView, build_view, format_time, render_batch
from monitor.alerts.send import send_rendered
from monitor.config import Config, SourceConfig, TopicConfig
from monitor.db.models import (
    DONE,
    DUPLICATE,
    FAILED,
    OUT_SENT,
    OUT_SKIPPED,
    PENDING,
    Alert,
    Article,
    Match,
    utcnow,
)
from monitor.db.models import Source as SourceRow
from monitor.db.session import transaction
from monitor.logs import log_context
from monitor.match import Matcher
from monitor.pipeline import (
    OUT_OF_RANGE,
    SET_ASIDE,
    UNDATED,
    DateRange,
    PendingArticle,
    process_article,
    store_candidates,
)
from monitor.runtime import Runtime, Settings, open_runtime
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_date, parse_feed
from monitor.sources.listing import parse_listing
from monitor.sources.sitemaps import SitemapEntry, parse_sitemap
from monitor.urls import canonical_url

log = logging.getLogger(__name__)

__all__ = [
    "BackfillReport",
    "DigestOutcome",
    "Discovery",
    "Limits",
    "LogProgress",
    "Progress",
    "RichProgress",
    "SourceSummary",
    "discover_past",
    "run_backfill",
]

_CHUNK = 500
_GUESSED_SITEMAPS = ("/sitemap.xml", "/sitemap_index.xml", "/wp-sitemap.xml")
_MARGIN = timedelta(days=1)  # approximate dates (listing pages, URL paths) exclude only beyond it


@dataclass(frozen=True)
class Limits:
    """Bounds on discovery, per source."""

    sitemap_depth: int = 4  # nested indexes
    sitemaps: int = 500  # sitemap files fetched
    listing_pages: int = 50
    feed_pages: int = 50
    candidates: int = 20_000


@dataclass
class Discovery:
    """What discovery found for one source: the method(s) used, candidate articles, problems."""

    method: str = "none"  # sitemap | listing | feed pages, joined with " + " when several were needed
    candidates: list[Candidate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0


@dataclass
class SourceSummary:
    """What a backfill did for one source."""

    source: str
    method: str = "none"
    candidates: int = 0  # URLs found for the range (exact date in it, or not known yet)
    new: int = 0  # stored as new articles
    known: int = 0  # already stored (live or an earlier backfill), or the same page as one
    fetched: int = 0  # article pages processed in this run
    in_range: int = 0  # articles of the range stored by this run
    matched: int = 0  # articles of the range (stored now or before) matching a topic of the run
    out_of_range: int = 0
    undated: int = 0
    failed: int = 0  # pages that failed (retried at the next run, up to the attempt limit)
    errors: list[str] = field(default_factory=list)  # discovery problems, one line each

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.failed


@dataclass
class DigestOutcome:
    """The backfill digest sent (or not) to one channel."""

    channel: str
    rows: int  # outbox rows (topic, story) it carried
    messages: int = 0
    error: str | None = None


@dataclass
class BackfillReport:
    sources: list[SourceSummary]
    digests: list[DigestOutcome] = field(default_factory=list)


# --------------------------------------------------------------------------- progress


class Progress:
    """Receives the backfill's progress; this base class ignores it."""

    def start(self, sources: Sequence[str]) -> None: ...

    def discovered(self, summary: SourceSummary, pending: int) -> None: ...

    def article(self, summary: SourceSummary) -> None: ...

    def finished(self, summary: SourceSummary) -> None: ...

    def close(self) -> None: ...


class LogProgress(Progress):
    """Plain log lines (for logs and pipes): discovery, every ``every`` pages, and the end."""

    def __init__(self, every: int = 50, interval: float = 30.0) -> None:
        self.every, self.interval = every, interval
        self._last: dict[str, float] = {}

    def discovered(self, summary: SourceSummary, pending: int) -> None:
        log.info(
            "backfill %r: %s found %d candidate URLs (%d new, %d already known); %d pages to fetch",
            summary.source, summary.method, summary.candidates, summary.new, summary.known, pending,
        )  # fmt: skip
        for error in summary.errors:
            log.warning("backfill %r: %s", summary.source, error)
        self._last[summary.source] = time.monotonic()

    def article(self, summary: SourceSummary) -> None:
        now = time.monotonic()
        if summary.fetched % self.every == 0 or now - self._last.get(summary.source, 0) >= self.interval:
            self._last[summary.source] = now
            log.info(
                "backfill %r: %d fetched, %d in range, %d matched, %d errors",
                summary.source, summary.fetched, summary.in_range, summary.matched, summary.error_count,
            )  # fmt: skip

    def finished(self, summary: SourceSummary) -> None:
        log.info(
            "backfill %r done: %d in range (%d matched), %d out of range, %d undated, %d errors",
            summary.source, summary.in_range, summary.matched, summary.out_of_range, summary.undated,
            summary.error_count,
        )  # fmt: skip


class RichProgress(Progress):
    """One rich progress bar per source (for a terminal): pages fetched of those to fetch, with the
    discovered, matched and error counts."""

    def __init__(self, console=None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[dim]{task.fields[method]}[/] discovered {task.fields[discovered]} · "
                "matched {task.fields[matched]} · errors {task.fields[errors]}"
            ),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, int] = {}

    def start(self, sources: Sequence[str]) -> None:
        self._bars.start()
        for name in sources:
            self._tasks[name] = self._bars.add_task(
                name, total=None, method="discovering…", discovered=0, matched=0, errors=0
            )

    def _update(self, summary: SourceSummary, **extra) -> None:
        self._bars.update(
            self._tasks[summary.source],
            completed=summary.fetched,
            method=summary.method,
            discovered=summary.candidates,
            matched=summary.matched,
            errors=summary.error_count,
            **extra,
        )

    def discovered(self, summary: SourceSummary, pending: int) -> None:
        self._update(summary, total=pending)

    def article(self, summary: SourceSummary) -> None:
        self._update(summary)

    def finished(self, summary: SourceSummary) -> None:
        self._update(summary, total=summary.fetched)

    def close(self) -> None:
        self._bars.stop()


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class _Window:
    """The range, exactly (``exact``) and with the margin of approximate dates (``near``)."""

    exact: DateRange

    def near(self, first: datetime, last: datetime) -> bool:
        """Whether an approximate span [first, last] may fall in the range."""
        return last >= self.exact.start - _MARGIN and first <= self.exact.end + _MARGIN

    def before(self, moment: datetime) -> bool:
        return moment < self.exact.start


_URL_DAY = re.compile(r"(?<!\d)((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?!\d)")
_URL_MONTH = re.compile(r"/((?:19|20)\d{2})/(0[1-9]|1[0-2])(?:/|$)")
_FILE_MONTH = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_](0[1-9]|1[0-2])(?!\d)")


def url_span(url: str, tz: tzinfo, *, sitemap: bool = False) -> tuple[datetime, datetime] | None:
    """The day (``/2025/07/03/``, ``2025-07-03``, ``20250703``) or month (``/2025/07/``; in a
    sitemap's file name also ``-2025-07``) a URL path names, as [first moment, last moment]."""
    path = urlsplit(url).path
    found = _URL_DAY.search(path)
    try:
        if found:
            day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
            return _span(day, day, tz)
        found = _URL_MONTH.search(path) or (_FILE_MONTH.search(path.rsplit("/", 1)[-1]) if sitemap else None)
        if found:
            year, month = int(found.group(1)), int(found.group(2))
            last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
            return _span(date(year, month, 1), last, tz)
    except ValueError:
        return None
    return None


def _span(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    return datetime(first.year, first.month, first.day, tzinfo=tz), datetime(
        last.year, last.month, last.day, 23, 59, 59, 999999, tzinfo=tz
    )


def _approximate(window: _Window, span: tuple[datetime, datetime] | None) -> str:
    """ "in" (or unknown), "before" or "after" the range, for an approximate span."""
    if span is None or window.near(*span):
        return "in"
    return "before" if window.before(span[1]) else "after"


# --------------------------------------------------------------------------- discovery


@dataclass
class _Part:
    candidates: list[Candidate] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reaches_start: bool = False  # saw something dated before the range: it covers the whole range
    requests: int = 0


async def discover_past(
    rt: Runtime, source: SourceConfig, start: datetime, end: datetime, *, limits: Limits | None = None
) -> Discovery:
    """Candidate articles ``source`` published between ``start`` and ``end`` (inclusive, aware),
    by sitemap, else paginated listing or paginated feed (see the module docstring). Never raises
    for fetch or parse problems: they are listed in ``errors``."""
    limits = limits or Limits()
    window = _Window(DateRange(start, end))
    tz = rt.config.source_timezone(source)
    steps = [("sitemap", _from_sitemaps)]
    steps.append(("listing", _from_listing) if source.kind == "html" else ("feed pages", _from_feed_pages))
    found: dict[str, Candidate] = {}
    result = Discovery()
    methods = []
    for name, step in steps:
        part = await step(rt, source, window, tz, limits)
        result.errors += part.errors
        result.requests += part.requests
        if part.candidates:
            methods.append(name)
            for cand in part.candidates:
                found.setdefault(cand.url, cand)
            if part.reaches_start:
                break
    result.method = " + ".join(methods) or "none"
    result.candidates = list(found.values())
    if len(result.candidates) > limits.candidates:
        result.errors.append(f"kept the first {limits.candidates} of {len(result.candidates)} candidate URLs")
        result.candidates = result.candidates[: limits.candidates]
    return result


async def _sitemap_roots(rt: Runtime, source: SourceConfig) -> tuple[list[str], bool]:
    """(sitemap URLs to start from, whether they were given: by the config or robots.txt)."""
    if source.sitemap:
        return [source.sitemap], True
    await rt.http.robots.check(source.url)  # reads (and caches) the host's robots.txt
    listed = rt.http.robots.sitemaps(source.url)
    if listed:
        return list(dict.fromkeys(listed)), True
    parts = urlsplit(source.url)
    return [f"{parts.scheme}://{parts.netloc}{path}" for path in _GUESSED_SITEMAPS], False


async def _from_sitemaps(
    rt: Runtime, source: SourceConfig, window: _Window, tz: tzinfo, limits: Limits
) -> _Part:
    part = _Part()
    roots, given = await _sitemap_roots(rt, source)
    queue: deque[tuple[str, int]] = deque((url, 0) for url in (roots if given else roots[:1]))
    guesses = deque(roots[1:]) if not given else deque()
    seen: set[str] = set()
    found: dict[str, Candidate] = {}
    while queue:
        url, depth = queue.popleft()
        if url in seen:
            continue
        if len(seen) >= limits.sitemaps:
            part.errors.append(f"sitemaps: stopped after {limits.sitemaps} files")
            break
        seen.add(url)
        result = await rt.http.get(url)
        part.requests += 1
        try:
            if not result.ok or result.body is None:
                raise DiscoverError(result.error or f"HTTP {result.status}")
            sitemap = parse_sitemap(result.body, result.final_url, tz)
        except DiscoverError as exc:
            if given or depth:
                part.errors.append(f"sitemap {url}: {exc}")
            elif guesses:  # a guessed location that does not exist: try the next guess
                queue.append((guesses.popleft(), 0))
            continue
        guesses.clear()
        if sitemap.index:
            for child in sitemap.entries:
                if depth + 1 > limits.sitemap_depth:
                    part.errors.append(f"sitemap {url}: indexes nested deeper than {limits.sitemap_depth}")
                    break
                if _child_too_old(child, window, tz):
                    part.reaches_start = True
                    continue
                queue.append((child.loc, depth + 1))
            continue
        for entry in sitemap.entries:
            cand, before = _sitemap_candidate(entry, window, tz)
            part.reaches_start |= before
            if cand is not None:
                found.setdefault(cand.url, cand)
    part.candidates = list(found.values())
    return part


def _child_too_old(child: SitemapEntry, window: _Window, tz: tzinfo) -> bool:
    """A child sitemap not modified since the range began, or named after a month/day before it."""
    if child.lastmod is not None and window.before(child.lastmod):
        return True
    return _approximate(window, url_span(child.loc, tz, sitemap=True)) == "before"


def _sitemap_candidate(entry: SitemapEntry, window: _Window, tz: tzinfo) -> tuple[Candidate | None, bool]:
    """(the entry as a candidate, or None when it is out of the range; whether it is dated before
    the range)."""
    if entry.published is not None:  # exact
        if entry.published in window.exact:
            return _candidate(entry.loc, entry.title, entry.published), False
        return None, window.before(entry.published)
    if entry.lastmod is not None and window.before(entry.lastmod):
        return None, True
    where = _approximate(window, url_span(entry.loc, tz))
    if where != "in":
        return None, where == "before"
    return _candidate(entry.loc, entry.title, None), False


def _candidate(url: str, title: str | None, published: datetime | None) -> Candidate:
    return Candidate(url=canonical_url(url), fetch_url=url, title=title, published=published)


async def _from_listing(
    rt: Runtime, source: SourceConfig, window: _Window, tz: tzinfo, limits: Limits
) -> _Part:
    part = _Part()
    url: str | None = source.url
    visited: set[str] = set()
    seen: set[str] = set()
    page_no = 1
    while url and len(visited) < limits.listing_pages:
        visited.add(canonical_url(url))
        result = await rt.http.get(url, robots=source.robots)
        part.requests += 1
        try:
            if not result.ok or not result.body:
                raise DiscoverError(result.error or f"HTTP {result.status}")
            cands = parse_listing(result.body, result.headers, result.final_url, source.links)
            doc = lxml.html.document_fromstring(_html_text(result.body, result.headers))
        except (DiscoverError, etree.ParserError, ValueError) as exc:
            part.errors.append(f"listing page {url}: {exc}")
            break
        base = result.final_url or url
        new = [c for c in cands if c.url not in seen]
        if not new:
            break
        dates = _listing_dates(doc, base, {c.url for c in new}, tz)
        counts = {"in": 0, "before": 0, "after": 0}
        for cand in new:
            seen.add(cand.url)
            span = dates.get(cand.url) or url_span(cand.url, tz)
            where = _approximate(window, span)
            counts[where] += 1
            if where == "in":
                part.candidates.append(cand)
        part.reaches_start |= counts["before"] > 0
        if counts["before"] and not counts["in"]:
            break  # the listing has gone past the start of the range
        url = next_page(doc, base, page_no, visited)
        page_no += 1
    else:
        if url and len(visited) >= limits.listing_pages:
            part.errors.append(f"listing: stopped after {limits.listing_pages} pages")
    return part


_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _html_text(body: bytes, headers: dict[str, str]) -> str:
    """The page as text: its declared charset (header, then <meta>), else UTF-8, else cp1252."""
    declared = _CHARSET.search(headers.get("content-type", "").encode("latin-1", "replace"))
    declared = declared or _CHARSET.search(body[:65536])
    for name in ([declared.group(1).decode("ascii", "ignore")] if declared else []) + ["utf-8"]:
        try:
            return _XML_DECL.sub("", body.decode(name), count=1)
        except (LookupError, UnicodeDecodeError):
            continue
    return _XML_DECL.sub("", body.decode("cp1252", "replace"), count=1)


_NEXT_WORDS = {
    "next", "next page", "next »", "next ›", "next →", "newer", "older", "older posts", "older entries",
    "older articles", "more", "load more", "suivant", "suivante", "page suivante", "suivant »",
    "articles plus anciens", "التالي", "الصفحة التالية", "المزيد", "→", ">", ">>",
}  # fmt: skip
_NEXT_ARROWS = {"›", "»", "next", "suivant"}


def next_page(doc: lxml.html.HtmlElement, base: str, page_no: int, visited: set[str]) -> str | None:
    """The listing's next page: ``rel=next``, then a link saying Next (Suivant, التالي…), then a
    link to page ``page_no + 1`` (``/page/N``, ``?page=N``, ``?paged=N``), then a › or » link."""

    def usable(href: str | None) -> str | None:
        if not href or href.startswith(("#", "javascript:")):
            return None
        url = urljoin(base, href.strip())
        return (
            url if urlsplit(url).scheme in ("http", "https") and canonical_url(url) not in visited else None
        )

    for element in doc.xpath('//link[@href][contains(concat(" ", normalize-space(@rel), " "), " next ")]'):
        if url := usable(element.get("href")):
            return url
    anchors = [a for a in doc.iter("a") if a.get("href")]
    for a in anchors:
        if "next" in (a.get("rel") or "").lower().split() and (url := usable(a.get("href"))):
            return url
    for a in anchors:
        label = " ".join((a.text_content() or a.get("aria-label") or a.get("title") or "").split()).lower()
        if label in _NEXT_WORDS - _NEXT_ARROWS - {"»", "›"} and (url := usable(a.get("href"))):
            return url
    wanted = page_no + 1
    pattern = re.compile(rf"(?:/page/{wanted}/?$|[?&](?:page|paged|p|pg)={wanted}(?:&|$))", re.I)
    for a in anchors:
        url = usable(a.get("href"))
        if url and pattern.search(url.split("#", 1)[0]):
            return url
    for a in anchors:
        label = " ".join((a.text_content() or a.get("aria-label") or "").split()).lower()
        if label in _NEXT_ARROWS and (url := usable(a.get("href"))):
            return url
    return None


def _listing_dates(
    doc: lxml.html.HtmlElement, base: str, wanted: set[str], tz: tzinfo
) -> dict[str, tuple[datetime, datetime]]:
    """Dates shown next to article links on a listing page: the ``<time>`` (or
    ``itemprop=datePublished``) in the smallest block around the link that holds no other article."""
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


async def _from_feed_pages(
    rt: Runtime, source: SourceConfig, window: _Window, tz: tzinfo, limits: Limits
) -> _Part:
    part = _Part()
    seen: set[str] = set()
    for page in range(1, limits.feed_pages + 1):
        url = source.url if page == 1 else _with_param(source.url, "paged", page)
        result = await rt.http.get(url)
        part.requests += 1
        if not result.ok or not result.body:
            if page == 1:
                part.errors.append(f"feed {url}: {result.error or 'empty response'}")
            break  # past the last page (404), or the site does not page its feed
        try:
            cands = parse_feed(result.body, result.headers, result.final_url, tz)
        except DiscoverError as exc:
            if page == 1:
                part.errors.append(f"feed {url}: {exc}")
            break
        new = [c for c in cands if c.url not in seen]
        if not new:
            break  # empty, or the same entries again (?paged ignored)
        older = False
        for cand in new:
            seen.add(cand.url)
            if cand.published is not None:
                if cand.published in window.exact:
                    part.candidates.append(cand)
                older |= window.before(cand.published)
            elif (where := _approximate(window, url_span(cand.url, tz))) == "in":
                part.candidates.append(cand)
            else:
                older |= where == "before"
        if older:
            part.reaches_start = True
            break  # newest first: the next pages are older still
    else:
        part.errors.append(f"feed pages: stopped after {limits.feed_pages} pages")
    return part


def _with_param(url: str, name: str, value: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, str(value)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


# --------------------------------------------------------------------------- storing


def _store(rt: Runtime, source_id: int, candidates: list[Candidate], window: _Window) -> int:
    """Store new candidates as backfill rows (chunked transactions); take back rows an earlier
    backfill set aside whose date is in this range. Returns how many were new."""
    added = 0
    for i in range(0, len(candidates), _CHUNK):
        chunk = candidates[i : i + _CHUNK]
        try:
            with transaction(rt.factory) as session:
                added += store_candidates(session, source_id, chunk, origin="backfill")
        except IntegrityError:  # stored meanwhile by live polling: one at a time
            for cand in chunk:
                try:
                    with transaction(rt.factory) as session:
                        added += store_candidates(session, source_id, [cand], origin="backfill")
                except IntegrityError:
                    continue
        _reclaim(rt, chunk, window)
    return added


def _reclaim(rt: Runtime, candidates: list[Candidate], window: _Window) -> None:
    by_url = {c.url: c for c in candidates}
    with transaction(rt.factory) as session:
        rows = session.execute(
            select(Article.id, Article.url, Article.published_at).where(
                Article.url.in_(list(by_url)), Article.origin == "backfill", Article.status.in_(SET_ASIDE)
            )
        ).all()
        for row_id, url, stored_date in rows:
            cand = by_url[url]
            moment = cand.published or stored_date
            if moment is None or moment not in window.exact:
                continue
            session.execute(
                update(Article)
                .where(Article.id == row_id, Article.status.in_(SET_ASIDE))
                .values(
                    status=PENDING,
                    published_at=cand.published,
                    date_source="feed" if cand.published else None,
                    next_fetch_at=utcnow(),
                    attempts=0,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )


_PENDING_COLUMNS = (
    Article.id,
    SourceRow.name,
    Article.url,
    Article.fetch_url,
    Article.title,
    Article.author,
    Article.published_at,
    Article.discovered_at,
)


def _pending(rt: Runtime, source_id: int, window: _Window) -> list[PendingArticle]:
    """This source's backfill rows still to process whose date (if known) is in the range."""
    with rt.factory() as session:
        rows = session.execute(
            select(*_PENDING_COLUMNS)
            .join(Article.source)
            .where(Article.source_id == source_id, Article.origin == "backfill", Article.status == PENDING)
            .where(
                Article.published_at.is_(None)
                | Article.published_at.between(window.exact.start, window.exact.end)
            )
            .order_by(Article.published_at, Article.id)
        ).all()
    return [PendingArticle(*row) for row in rows]


def _match_stored(rt: Runtime, source_id: int, source: str, window: _Window) -> int:
    """Match the run's topics against articles already stored with a date in the range; add the
    matches (and skipped outbox rows) they lack. Returns how many of them match a topic."""
    with rt.factory() as session:
        ids = list(
            session.scalars(
                select(Article.id)
                .where(Article.source_id == source_id, Article.status == DONE)
                .where(Article.published_at.between(window.exact.start, window.exact.end))
                .order_by(Article.id)
            )
        )
    matching = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        with transaction(rt.factory) as session:
            rows = session.execute(
                select(Article.id, Article.title, Article.text, Article.language, Article.story_id).where(
                    Article.id.in_(chunk)
                )
            ).all()
            have = {
                (row.article_id, row.topic_id)
                for row in session.execute(
                    select(Match.article_id, Match.topic_id).where(Match.article_id.in_(chunk))
                )
            }
            for article_id, title, text, language, story_id in rows:
                hits = rt.matcher.match(title, text or "", source=source, language=language)
                matching += bool(hits)
                for hit in hits:
                    topic_id = rt.topic_ids.get(hit.topic)
                    if topic_id is None or (article_id, topic_id) in have:
                        continue
                    session.execute(
                        insert(Match).values(
                            article_id=article_id, topic_id=topic_id, terms=hit.terms, fields=hit.fields,
                            snippet=hit.snippet, created_at=utcnow(),
                        )
                    )  # fmt: skip
                    if story_id is not None:
                        enqueue(
                            session, topic_id=topic_id, story_id=story_id, article_id=article_id,
                            channels=rt.topic_channels[hit.topic], status=OUT_SKIPPED,
                        )  # fmt: skip
    return matching


# --------------------------------------------------------------------------- one source


async def _backfill_source(
    rt: Runtime,
    source: SourceConfig,
    window: _Window,
    limits: Limits,
    progress: Progress,
    slots: asyncio.Semaphore,
) -> SourceSummary:
    summary = SourceSummary(source.name)
    with log_context(source=source.name):
        try:
            found = await discover_past(rt, source, window.exact.start, window.exact.end, limits=limits)
        except Exception as exc:  # a bug must not stop the other sources
            log.exception("backfill %r: discovery failed", source.name)
            found = Discovery(errors=[f"discovery failed: {type(exc).__name__}: {exc}"])
        summary.method, summary.errors = found.method, list(found.errors)
        summary.candidates = len(found.candidates)
        source_id = rt.source_ids[source.name]
        summary.new = _store(rt, source_id, found.candidates, window)
        summary.known = summary.candidates - summary.new
        summary.matched = _match_stored(rt, source_id, source.name, window)
        pending = _pending(rt, source_id, window)
    progress.discovered(summary, len(pending))

    async def one(article: PendingArticle) -> None:
        async with slots:
            with log_context(source=article.source, article=article.url):
                status, matched = await process_article(rt, article, notify=False, date_range=window.exact)
        _count(summary, status, matched)
        progress.article(summary)

    async with asyncio.TaskGroup() as group:
        for article in pending:
            group.create_task(one(article))
    progress.finished(summary)
    return summary


def _count(summary: SourceSummary, status: str, matched: int) -> None:
    summary.fetched += 1
    if status == DONE:
        summary.in_range += 1
        summary.matched += bool(matched)
    elif status == OUT_OF_RANGE:
        summary.out_of_range += 1
    elif status == UNDATED:
        summary.undated += 1
    elif status == DUPLICATE:
        summary.known += 1
    elif status in (PENDING, FAILED):
        summary.failed += 1


# --------------------------------------------------------------------------- the digest


def _digest_rows(
    session, window: _Window, source_ids: list[int], topic_ids: list[int]
) -> list[tuple[int, str]]:
    """(alert id, channel) of the skipped backfill rows for these sources, topics and range."""
    return list(
        session.execute(
            select(Alert.id, Alert.channel)
            .join(Article, Article.id == Alert.article_id)
            .where(
                Alert.status == OUT_SKIPPED,
                Alert.last_error.is_(None),  # not a match withdrawn by `topics rematch`
                Alert.topic_id.in_(topic_ids),
                Article.source_id.in_(source_ids),
                Article.published_at.between(window.exact.start, window.exact.end),
            )
            .order_by(Alert.id)
        )
    )


def send_backfill_digests(
    rt: Runtime, window: DateRange, sources: Sequence[str], topics: Sequence[str]
) -> list[DigestOutcome]:
    """One message per channel listing the run's unsent (topic, story) rows; the rows are then
    marked sent. Rows of a failed channel stay skipped (a later ``--notify`` run sends them)."""
    config = rt.config
    with rt.factory() as session:
        rows = _digest_rows(
            session, _Window(window), [rt.source_ids[s] for s in sources], [rt.topic_ids[t] for t in topics]
        )
    by_channel: dict[str, list[int]] = {}
    for alert_id, channel in rows:
        by_channel.setdefault(channel, []).append(alert_id)
    outcomes = []
    for channel in config.channels:
        ids = by_channel.get(channel.name)
        if not ids:
            continue
        outcome = DigestOutcome(channel.name, rows=len(ids))
        for i in range(0, len(ids), BUNDLE_MAX):
            error = _send_digest(rt, channel.name, channel.url, ids[i : i + BUNDLE_MAX], window)
            if error:
                outcome.error = error
                break
            outcome.messages += 1
        outcomes.append(outcome)
    return outcomes


def _send_digest(rt: Runtime, channel: str, url: str, ids: list[int], window: DateRange) -> str | None:
    tz = rt.config.tz
    try:
        with rt.factory() as session:
            alerts = session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)).all()
            views = [build_view(session, alert, tz) for alert in alerts]
        note = (
            f"Backfill: articles published from {format_time(window.start, tz)} "
            f"to {format_time(window.end, tz)}, found by `monitor backfill`."
        )
        batch = BatchView(
            kind="digest", channel=channel, items=views, since=window.start, until=window.end, note=note
        )
        message = render_batch(batch, tz)
    except Exception as exc:  # a broken row must not lose the others
        log.exception("backfill digest to %s: cannot render the message", channel)
        return f"cannot render the message: {type(exc).__name__}: {exc}"
    result = send_rendered(url, message, channel=channel)
    if not result.ok:
        log.warning("backfill digest to %s failed: %s", channel, result.error)
        return result.error or "delivery failed"
    with transaction(rt.factory) as session:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids), Alert.status == OUT_SKIPPED)
            .values(
                status=OUT_SENT,
                attempts=Alert.attempts + 1,
                sent_at=utcnow(),
                next_attempt_at=None,
                bundle_id=min(ids),
                result={"ok": True, "services": result.results, "error": None},
            )
            .execution_options(synchronize_session=False)
        )
    log.info("sent to %s: %s", channel, message.title)
    return None


# --------------------------------------------------------------------------- the run


def select_sources(
    config: Config, names: Sequence[str] | None, topics: Sequence[TopicConfig]
) -> list[SourceConfig]:
    """The sources named (KeyError for an unknown one), else those the topics are restricted to,
    else all."""
    if names:
        return [config.source(name) for name in dict.fromkeys(names)]
    if topics and all(t.sources for t in topics):
        wanted = {s for t in topics for s in t.sources}
        return [s for s in config.sources if s.name in wanted]
    return list(config.sources)


def select_topics(config: Config, names: Sequence[str] | None) -> list[TopicConfig]:
    """The topics named (KeyError for an unknown one), else all."""
    if not names:
        return list(config.topics)
    by_name = {t.name: t for t in config.topics}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(missing[0])
    return [by_name[n] for n in dict.fromkeys(names)]


async def run_backfill(
    config: Config,
    start: datetime,
    end: datetime,
    *,
    sources: Sequence[str] | None = None,
    topics: Sequence[str] | None = None,
    notify: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> BackfillReport:
    """Backfill ``[start, end]`` (aware, inclusive) for the given sources and topics (default:
    all); see the module docstring. Raises ValueError when ``start`` is after ``end`` and KeyError
    for an unknown source or topic name."""
    if start > end:
        raise ValueError("the start of the range is after its end")
    chosen_topics = select_topics(config, topics)
    chosen = select_sources(config, sources, chosen_topics if topics else [])
    progress = progress or LogProgress()
    limits = limits or Limits()
    window = _Window(DateRange(start, end))
    async with open_runtime(config, settings) as rt:
        if topics:
            rt.matcher = Matcher(chosen_topics)
        slots = asyncio.Semaphore(rt.settings.article_concurrency)
        progress.start([s.name for s in chosen])
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(_backfill_source(rt, s, window, limits, progress, slots))
                    for s in chosen
                ]
        finally:
            progress.close()
        report = BackfillReport([t.result() for t in tasks])
        if notify:
            report.digests = await asyncio.to_thread(
                send_backfill_digests,
                rt,
                window.exact,
                [s.name for s in chosen],
                [t.name for t in chosen_topics],
            )
    return report
