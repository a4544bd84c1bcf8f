"""The pipeline's decisions, as pure functions: when to poll a source again, when to retry an
article page or give up on it, whether a backfill sets an article aside, and whether a page is a
copy of one already stored.

Nothing here reads or writes the database or the network: ``poll`` and ``store`` record what
these functions decide, so the same rules serve the daemon, ``run --once``, backfill and (later)
workers, and are tested without either. Jitter comes from ``rng`` (the ``random`` module unless a
test passes a seeded ``random.Random``).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from monitor.dates import DateRange
from monitor.db.models import ArticleStatus, Origin
from monitor.fetch.http import FetchResult
from monitor.fetch.robots import DISALLOWED
from monitor.urls import canonical_url

ROBOTS_RETRY = 600.0  # seconds before trying again when a host's robots.txt could not be read
POLL_JITTER = 0.1  # next poll at interval × (1 ± 10 %), so sources drift apart
BACKOFF_JITTER = 0.1  # a backoff delay × (1 ± 10 %), so failures do not retry in lockstep
RETRY_AFTER_MAX = 6 * 3600.0  # a server's Retry-After is honoured up to this: a far-off date must
# not stop a source (or leave an article pending) silently


def backoff(base: float, attempts: int, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after the ``attempts``-th failure in a row: ``base`` doubling, capped at
    ``cap``, ± 10 % jitter."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * (rng or random).uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def honoured_retry_after(retry_after: float | None) -> float:
    """A server's Retry-After in seconds, capped at ``RETRY_AFTER_MAX`` (0 when absent)."""
    return min(retry_after or 0, RETRY_AFTER_MAX)


def next_poll(now: datetime, interval: float, rng: random.Random | None = None) -> datetime:
    """After a successful poll: one interval later, ± 10 %."""
    jitter = (rng or random).uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
    return now + timedelta(seconds=interval * jitter)


def next_poll_after_failure(
    now: datetime,
    interval: float,
    failures: int,
    *,
    retry_after: float | None,
    cap: float,
    rng: random.Random | None = None,
) -> datetime:
    """After the ``failures``-th failed poll in a row: never sooner than one interval, nor than
    the server's Retry-After (capped); the interval doubling with each failure up to ``cap``."""
    delay = max(interval, honoured_retry_after(retry_after), backoff(interval, failures, cap, rng))
    return now + timedelta(seconds=delay)


def page_retry_at(
    now: datetime,
    attempts: int,
    *,
    max_attempts: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    final: bool = False,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to fetch an article page again after its ``attempts``-th failed attempt, or None to
    give up: at ``max_attempts``, or at once when the failure is ``final`` (robots.txt refuses
    the page). The delay is the backoff, or the server's Retry-After (capped) when longer."""
    if final or attempts >= max_attempts:
        return None
    delay = max(honoured_retry_after(retry_after), backoff(base, attempts, cap, rng))
    return now + timedelta(seconds=delay)


def store_from_feed(*, title: str | None, summary: str, origin: str, feed_date: datetime | None) -> bool:
    """Whether a page given up on is stored (and matched) from its feed's title and summary rather
    than marked failed: only when the feed gave either, and, for a backfill, a date (without the
    page, only a feed or sitemap date can say the article is in the backfill's range)."""
    if not (title or summary):
        return False
    return origin == Origin.LIVE or feed_date is not None


def set_aside_status(
    date_source: str, published: datetime, date_range: DateRange
) -> tuple[ArticleStatus, str] | None:
    """For a backfill: (status, note) when the article is not stored, being dated outside the range
    (``out_of_range``) or not dated at all (``undated``: only the first-seen time is known); None
    when it is in the range."""
    if date_source == "first-seen":
        return ArticleStatus.UNDATED, "no publication date"
    if published in date_range:
        return None
    return ArticleStatus.OUT_OF_RANGE, "published outside the backfill range"


def page_canonical(url: str | None) -> str | None:
    """The page's declared canonical URL, unless it is useless for deduplication (a site's home
    page, as some CMSs declare on every article)."""
    if not url:
        return None
    canonical = canonical_url(url)
    path = urlsplit(canonical)
    return canonical if (path.path not in ("", "/") or path.query) else None


def host_down(url: str, result: FetchResult) -> str | None:
    """The source's host when its own fetch showed the site unreachable or failing (no answer,
    5xx, 429), so its articles' retries are not spent meanwhile; None otherwise (a robots.txt
    refusing the source's own page says nothing of the site's health, nor of its article pages)."""
    if result.ok or result.robots == DISALLOWED or result.refused:
        return None
    if not (result.status == 0 or result.status >= 500 or result.status == 429):
        return None
    return urlsplit(url).hostname
