"""What a backfill reports: per source, and per channel for the ``--notify`` digest."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """What a backfill did: one summary per source, one digest outcome per channel (``--notify``)."""

    sources: list[SourceSummary]
    digests: list[DigestOutcome] = field(default_factory=list)
