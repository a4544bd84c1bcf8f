"""Source health for `monitor status` and operator alerts: failing or gone silent.

A source is *failing* after ``FAILING_AFTER`` consecutive failed polls, and *silent* when no new
article has appeared for much longer than its own usual cadence (the median gap between its
recent articles), so a daily outlet is not flagged after an hour and a busy wire is not left
unnoticed for a day.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.config import Config
from monitor.dates import utcnow
from monitor.db.models import Article, ArticleStatus, Origin, Source
from monitor.urls import redact_text, redact_url

FAILING_AFTER = 3  # consecutive failed polls
CADENCE_SAMPLE = 20  # recent articles used to learn a source's cadence
SILENT_FACTOR = 4.0  # silent after this many usual gaps without a new article
SILENT_MIN = timedelta(hours=2)


@dataclass
class SourceHealth:
    """One source as ``monitor status``, the web UI and operator alerts see it (empty until first
    synced); ``url`` and the errors are shown without credentials or keys (``urls.redact_url``)."""

    name: str
    kind: str
    url: str
    consecutive_failures: int = 0  # polls failed in a row
    items_24h: int = 0  # new live articles in the last 24 hours
    pending: int = 0  # articles waiting for their page
    failed_pages: int = 0  # articles given up on
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_poll_at: datetime | None = None
    disabled: str | None = None
    last_item_at: datetime | None = None
    usual_gap: timedelta | None = None
    flags: list[str] = field(default_factory=list)


_POLL_STATE = ("last_success_at", "last_error_at", "next_poll_at")  # copied from the row


def usual_gap(times: list[datetime]) -> timedelta | None:
    """The median gap between consecutive times (newest first or any order); None if too few."""
    if len(times) < 5:
        return None
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False)]
    return timedelta(seconds=statistics.median(gaps))


def flags_for(
    *,
    consecutive_failures: int,
    interval: float,
    last_item_at: datetime | None,
    gap: timedelta | None,
    disabled: str | None,
    now: datetime,
) -> list[str]:
    """The problems worth an operator's attention, as short words."""
    flags = []
    if disabled:
        flags.append("disabled")
    if consecutive_failures >= FAILING_AFTER:
        flags.append("failing")
    if last_item_at is not None and gap is not None:
        limit = max(gap * SILENT_FACTOR, timedelta(seconds=3 * interval), SILENT_MIN)
        if now - last_item_at > limit:
            flags.append("silent")
    return flags


def source_health(session: Session, config: Config, now: datetime | None = None) -> list[SourceHealth]:
    """Health of every configured source, in config order."""
    now = now or utcnow()
    rows = {
        s.name: s
        for s in session.scalars(select(Source).where(Source.name.in_([c.name for c in config.sources])))
    }
    out = []
    for cfg in config.sources:
        row = rows.get(cfg.name)
        if row is None:  # never synced yet
            out.append(SourceHealth(cfg.name, cfg.kind, redact_url(cfg.url)))
            continue
        live = (Article.source_id == row.id) & (Article.origin == Origin.LIVE)
        recent = list(
            session.scalars(
                select(Article.discovered_at)
                .where(live)
                .order_by(Article.discovered_at.desc())
                .limit(CADENCE_SAMPLE)
            )
        )
        items_24h = session.scalar(
            select(func.count())
            .select_from(Article)
            .where(live, Article.discovered_at >= now - timedelta(hours=24))
        )
        counts = dict(
            session.execute(
                select(Article.status, func.count())
                .where(
                    Article.source_id == row.id,
                    Article.status.in_([ArticleStatus.PENDING, ArticleStatus.FAILED]),
                )
                .group_by(Article.status)
            ).all()
        )
        gap = usual_gap(recent)
        disabled = redact_text(row.disabled_reason) if row.disabled_reason else None
        last_item = recent[0] if recent else None
        out.append(
            SourceHealth(
                cfg.name,
                cfg.kind,
                redact_url(cfg.url),
                **{name: getattr(row, name) for name in _POLL_STATE},
                last_error=redact_text(row.last_error) if row.last_error else None,
                consecutive_failures=row.consecutive_failures or 0,
                disabled=disabled,
                items_24h=items_24h or 0,
                last_item_at=last_item,
                usual_gap=gap,
                pending=counts.get(ArticleStatus.PENDING, 0),
                failed_pages=counts.get(ArticleStatus.FAILED, 0),
                flags=flags_for(
                    consecutive_failures=row.consecutive_failures or 0,
                    interval=cfg.interval,
                    last_item_at=last_item,
                    gap=gap,
                    disabled=disabled,
                    now=now,
                ),
            )
        )
    return out
