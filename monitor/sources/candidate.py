"""What discovery hands to the pipeline: a candidate article, and the error for a bad source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Candidate:
    """One article link found in a feed or listing page, not fetched yet."""

    url: str  # canonical_url(...): the identity used for deduplication
    fetch_url: str  # absolute URL as found (what we will GET)
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None  # aware; naive source dates are localised in the source's tz
    author: str | None = None


class DiscoverError(Exception):
    """The fetched body is not what the source claims to be; the message is one line saying why."""
