"""Operating the outbox: list rows, requeue failed or dead ones, send a test message to a channel.

These back the ``monitor alerts``, ``monitor alerts retry`` and ``monitor notify-test``
commands; they are plain functions over a session (the caller commits) or the config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from monitor.alerts.render import AlertView, BatchView, render_batch, render_message
from monitor.alerts.send import SendResult, send_rendered
from monitor.config import Config, TopicConfig
from monitor.dates import utcnow
from monitor.db.models import Alert, Article, OutboxStatus
from monitor.match import Matcher

STATUSES = tuple(OutboxStatus)
RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD)  # what ``retry --all`` requeues
# what ``retry ID`` requeues
REPLAYABLE = (OutboxStatus.FAILED, OutboxStatus.DEAD, OutboxStatus.SENT, OutboxStatus.SKIPPED)


@dataclass
class AlertRow:
    """One outbox row as ``monitor alerts`` shows it."""

    id: int
    status: str
    channel: str
    topic: str
    title: str
    outlet: str
    url: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None
    services: list[dict] = field(default_factory=list)  # per-service results from apprise


def list_alerts(
    session: Session, *, status: str | None = None, channel: str | None = None, limit: int = 50
) -> list[AlertRow]:
    """Outbox rows, newest first, optionally of one status and/or channel."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (one of: {', '.join(STATUSES)})")
    query = (
        select(Alert)
        .options(joinedload(Alert.topic), joinedload(Alert.article).joinedload(Article.source))
        .order_by(Alert.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(Alert.status == status)
    if channel is not None:
        query = query.where(Alert.channel == channel)
    rows = []
    for alert in session.scalars(query):
        article = alert.article
        rows.append(
            AlertRow(
                id=alert.id,
                status=alert.status,
                channel=alert.channel,
                topic=alert.topic.name,
                title=article.title or article.url,
                outlet=article.source.name if article.source else "",
                url=article.url,
                attempts=alert.attempts,
                created_at=alert.created_at,
                next_attempt_at=alert.next_attempt_at,
                sent_at=alert.sent_at,
                last_error=alert.last_error,
                services=list((alert.result or {}).get("services") or []),
            )
        )
    return rows


def hide_secrets(rows: list[AlertRow], redact: Callable[[str], str]) -> list[AlertRow]:
    """``rows`` with ``redact`` (e.g. masking the config's channel secrets) applied to their
    errors and per-service results: stored redacted already, masked again where shown in case an
    older version stored one."""
    for row in rows:
        if row.last_error:
            row.last_error = redact(row.last_error)
        for service in row.services:
            if isinstance(service, dict):
                for key in ("service", "error"):
                    if isinstance(service.get(key), str):
                        service[key] = redact(service[key])
    return rows


@dataclass
class RetryResult:
    """What ``retry_alerts`` did: rows requeued, ids that do not exist, rows already queued/sending."""

    requeued: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)


def retry_alerts(
    session: Session, ids: Iterable[int] | None = None, *, now: datetime | None = None
) -> RetryResult:
    """Requeue rows for a fresh series of attempts (caller's transaction).

    Without ``ids``: every failed and dead row. With ``ids``: those rows if failed, dead, sent
    (a replay) or skipped; pending and sending rows are left as they are (``busy``).
    """
    now = now or utcnow()
    result = RetryResult()
    if ids is None:
        wanted = list(session.scalars(select(Alert.id).where(Alert.status.in_(RETRYABLE)).order_by(Alert.id)))
    else:
        asked = list(dict.fromkeys(int(i) for i in ids))
        found = dict(session.execute(select(Alert.id, Alert.status).where(Alert.id.in_(asked))).all())
        result.missing = [i for i in asked if i not in found]
        result.busy = [i for i in asked if i in found and found[i] not in REPLAYABLE]
        wanted = [i for i in asked if i in found and found[i] in REPLAYABLE]
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        session.execute(
            update(Alert)
            .where(Alert.id.in_(chunk), Alert.status.in_(REPLAYABLE))
            .values(
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                sent_at=None,
                bundle_id=None,
            )
            .execution_options(synchronize_session=False)
        )
    result.requeued = wanted
    return result


def _highlights(term: str, snippet: str) -> list[tuple[int, int]]:
    """Where ``term`` matches ``snippet``, as the matcher reports it for a stored match."""
    found = Matcher([TopicConfig(name="sample", keywords=[term])]).match(None, snippet)
    return found[0].highlights if found else []


def sample_views(now: datetime | None = None) -> list[AlertView]:
    """Made-up alerts for ``notify-test``: they look like real ones and say what they are."""
    now = now or utcnow()
    first = "This is a test alert sent by monitor notify-test: if you can read it, the channel works."
    second = "Digest channels receive one message per period, grouped by topic then story."
    return [
        AlertView(
            topic="monitor test",
            title="Test alert from monitor: this channel works",
            outlet="monitor",
            published=now,
            url="https://example.org/monitor/notify-test",
            terms=["test alert"],
            snippet=first,
            also=[("Example Outlet", "https://example.org/monitor/also-reported")],
            story_id=1,
            highlights=_highlights("test alert", first),
        ),
        AlertView(
            topic="monitor test",
            title="A second story, as a digest would list it",
            outlet="Example Outlet",
            published=now - timedelta(hours=1),
            url="https://example.org/monitor/second-story",
            terms=["digest"],
            snippet=second,
            story_id=2,
            highlights=_highlights("digest", second),
        ),
    ]


def notify_test(config: Config, channel_name: str) -> SendResult:
    """Send a sample alert (a sample digest to a digest channel) to one channel; report the result."""
    channel = next((c for c in config.channels if c.name == channel_name), None)
    if channel is None:
        known = ", ".join(c.name for c in config.channels) or "none defined"
        return SendResult(False, [], f"unknown channel {channel_name!r} (channels: {known})")
    views = sample_views()
    if channel.digest:
        now = utcnow()
        batch = BatchView(
            kind="digest", channel=channel.name, items=views, since=now - timedelta(days=1), until=now
        )
        message = render_batch(batch, config.tz)
    else:
        message = render_message(views[0], config.tz)
    message.title = f"[test] {message.title}"
    return send_rendered(channel.url, message, channel=channel.name)
