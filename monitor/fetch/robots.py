"""robots.txt rules per host (protego), fetched once and cached.

RFC 9309: a robots.txt answering 4xx means no rules (everything allowed); 5xx or no answer means
"assume disallowed for now" — callers treat that as *try later*, never as a permanent refusal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

ALLOWED = "allowed"
DISALLOWED = "disallowed"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Verdict:
    """Whether a URL may be fetched, and the host's Crawl-delay if it sets one."""

    status: str  # allowed | disallowed | unavailable
    crawl_delay: float | None = None
    reason: str | None = None  # one line, for logs and last_error

    @property
    def allowed(self) -> bool:
        return self.status == ALLOWED


@dataclass
class _Entry:
    rules: Protego | None  # None: no rules (allow all) or unavailable (see status)
    status: str  # ALLOWED (rules apply or none) | UNAVAILABLE
    reason: str | None
    expires: float


# fetch(url, origin) -> (status code or 0, body text or None, one-line error or None); ``origin``
# (the configured hosts the request stems from) is passed through to the HTTP client's guard.
Fetcher = Callable[[str, Iterable[str]], Awaitable[tuple[int, str | None, str | None]]]


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


class RobotsCache:
    """Answers ``check(url)`` from each host's robots.txt, cached for ``ttl`` seconds
    (``retry_ttl`` when it could not be read)."""

    def __init__(self, fetch: Fetcher, user_agent: str, *, ttl: float = 86400.0, retry_ttl: float = 600.0):
        self._fetch = fetch
        self._agent = user_agent.split("/", 1)[0]  # product token, e.g. "monitor"
        self._ttl = ttl
        self._retry_ttl = retry_ttl
        self._cache: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _entry(self, url: str, origin: Iterable[str]) -> _Entry:
        key = robots_url(url)
        entry = self._cache.get(key)
        if entry is not None and entry.expires > time.monotonic():
            return entry
        async with self._locks.setdefault(key, asyncio.Lock()):  # one fetch per host at a time
            entry = self._cache.get(key)
            if entry is not None and entry.expires > time.monotonic():
                return entry
            return await self._refresh(key, origin)

    async def _refresh(self, key: str, origin: Iterable[str]) -> _Entry:
        status, text, error = await self._fetch(key, origin)
        now = time.monotonic()
        if 200 <= status < 300 and text is not None:
            entry = _Entry(Protego.parse(text), ALLOWED, None, now + self._ttl)
        elif 400 <= status < 500:
            entry = _Entry(None, ALLOWED, None, now + self._ttl)
        else:
            reason = f"robots.txt unavailable ({error or f'HTTP {status}'})"
            entry = _Entry(None, UNAVAILABLE, reason, now + self._retry_ttl)
        self._cache[key] = entry
        return entry

    async def check(self, url: str, *, origin: Iterable[str] = ()) -> Verdict:
        """May ``url`` be fetched by us now? ``origin``: the configured URLs or hosts the request
        stems from (robots.txt is fetched as the request itself would be)."""
        entry = await self._entry(url, origin)
        if entry.status == UNAVAILABLE:
            return Verdict(UNAVAILABLE, None, entry.reason)
        if entry.rules is None:
            return Verdict(ALLOWED)
        delay = entry.rules.crawl_delay(self._agent)
        if entry.rules.can_fetch(url, self._agent):
            return Verdict(ALLOWED, delay)
        return Verdict(DISALLOWED, delay, "disallowed by robots.txt")

    def sitemaps(self, url: str) -> list[str]:
        """Sitemap URLs listed in the cached robots.txt of ``url``'s host (after a check)."""
        entry = self._cache.get(robots_url(url))
        return list(entry.rules.sitemaps) if entry and entry.rules else []
