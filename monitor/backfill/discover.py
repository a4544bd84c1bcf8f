"""Past articles of one source: sitemaps, else a paginated HTML listing or a paginated feed.

See ``monitor.backfill`` for the order and the date rules. Every request goes through the
runtime's ``HttpClient`` (politeness, robots.txt for HTML listings, size caps); parsing is left to
``monitor.sources`` (sitemaps, listings, feeds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.config import SourceConfig
from monitor.dates import DateRange, url_span
from monitor.runtime import Runtime
from monitor.sources.candidate import Candidate, DiscoverError
from monitor.sources.feeds import parse_feed
from monitor.sources.listing import listing_dates, next_page, read_listing
from monitor.sources.sitemaps import SitemapEntry, parse_sitemap
from monitor.urls import canonical_url, redact_text

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


@dataclass(frozen=True)
class _Window:
    """The range, exactly (``exact``) and with the margin of approximate dates (``near``)."""

    exact: DateRange

    def near(self, first: datetime, last: datetime) -> bool:
        """Whether an approximate span [first, last] may fall in the range."""
        return last >= self.exact.start - _MARGIN and first <= self.exact.end + _MARGIN

    def before(self, moment: datetime) -> bool:
        return moment < self.exact.start


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
    for fetch or parse problems: they are listed in ``errors`` (URLs redacted)."""
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
        result.errors += [redact_text(error) for error in part.errors]  # they quote the URLs
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
    await rt.http.robots.check(source.url, origin=(source.url,))  # reads (and caches) the host's robots.txt
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
        result = await rt.http.get(url, origin=(source.url, source.sitemap))
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
        result = await rt.http.get(url, robots=source.robots, origin=(source.url, source.sitemap))
        part.requests += 1
        try:
            if not result.ok or not result.body:
                raise DiscoverError(result.error or f"HTTP {result.status}")
            page = read_listing(result.body, result.headers, result.final_url or url, source.links)
        except DiscoverError as exc:
            part.errors.append(f"listing page {url}: {exc}")
            break
        new = [c for c in page.candidates if c.url not in seen]
        if not new:
            break
        dates = listing_dates(page.doc, page.base, {c.url for c in new}, tz)
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
        url = next_page(page.doc, page.base, page_no, visited)
        page_no += 1
    else:
        if url and len(visited) >= limits.listing_pages:
            part.errors.append(f"listing: stopped after {limits.listing_pages} pages")
    return part


async def _from_feed_pages(
    rt: Runtime, source: SourceConfig, window: _Window, tz: tzinfo, limits: Limits
) -> _Part:
    part = _Part()
    seen: set[str] = set()
    for page in range(1, limits.feed_pages + 1):
        url = source.url if page == 1 else _with_param(source.url, "paged", page)
        result = await rt.http.get(url, origin=(source.url, source.sitemap))
        part.requests += 1
        if not result.ok or not result.body:
            if page == 1:
                part.errors.append(f"feed {url}: {result.error or 'empty response'}")
            break  # past the last page (404), or the site does not page its feed
        try:
            cands = parse_feed(result.body, result.headers, result.final_url, tz, feed_url=source.url)
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
