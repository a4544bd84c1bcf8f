"""What discovery hands to the pipeline: a candidate article, and the error for a bad source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.urls import without_userinfo


@dataclass
class Candidate:
    """One article link found in a feed or listing page, not fetched yet. A link's user-info
    (``user:password@``) is dropped: credentials live in the config, never in stored URLs."""

    url: str  # canonical_url(...): the identity used for deduplication
    fetch_url: str  # absolute URL as found (what we will GET)
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None  # aware; naive source dates are localised in the source's tz
    author: str | None = None

    def __post_init__(self) -> None:
        self.url = without_userinfo(self.url)
        self.fetch_url = without_userinfo(self.fetch_url)


class DiscoverError(Exception):
    """The fetched body is not what the source claims to be; the message is one line saying why."""
