"""The durable outbox: one ``alerts`` row per (topic, story, channel), claimed, sent, retried.

Life of a row::

    pending ─claim─▶ sending ─ok─▶ sent
       ▲                │
       └──(backoff)── failed ──(max_attempts)──▶ dead

A sender claims due rows with a compare-and-set UPDATE and commits the claim (a lease in
``claimed_until``) before calling apprise, then records the outcome in a new short
transaction. Two senders never claim the same row; a sender that dies after its claim leaves a
``sending`` row that is claimed again once the lease expires (at most one duplicate, never a
loss). Every transaction that writes starts with its write, so SQLite takes the write lock
(with its busy timeout) instead of failing to upgrade a read snapshot.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.render import build_view, render
from monitor.alerts.send import SendResult, send_message
from monitor.config import ChannelConfig, Config
from monitor.db.models import (
    OUT_DEAD,
    OUT_FAILED,
    OUT_PENDING,
    OUT_SENDING,
    OUT_SENT,
    OUT_SKIPPED,
    Alert,
    utcnow,
)

log = logging.getLogger(__name__)

BACKOFF_BASE = 60.0  # seconds before the first retry
BACKOFF_CAP = 6 * 3600.0  # never wait longer than this between attempts
BACKOFF_JITTER = 0.1  # up to +10 %, so failed rows do not retry in lockstep


@dataclass
class SendStats:
    """What one :func:`send_pending` run did. ``skipped``: due rows another sender claimed first."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0


# --------------------------------------------------------------------------- enqueue


def enqueue(
    session: Session,
    *,
    topic_id: int,
    story_id: int,
    article_id: int,
    channels: Iterable[str],
    status: str = OUT_PENDING,
) -> int:
    """Add one outbox row per channel for (topic, story) unless it exists; return how many were added.

    Runs inside the caller's transaction (no commit, no savepoint): reads the channels already
    queued for (topic, story), then inserts the missing ones. Assumes one writer per story.
    """
    if status not in (OUT_PENDING, OUT_SKIPPED):
        raise ValueError(f"enqueue status must be {OUT_PENDING!r} or {OUT_SKIPPED!r}, not {status!r}")
    existing = set(
        session.scalars(select(Alert.channel).where(Alert.topic_id == topic_id, Alert.story_id == story_id))
    )
    existing.update(  # rows added to this session but not flushed yet (autoflush off)
        obj.channel
        for obj in session.new
        if isinstance(obj, Alert) and obj.topic_id == topic_id and obj.story_id == story_id
    )
    now = utcnow()
    added = 0
    for channel in dict.fromkeys(channels):
        if channel in existing:
            continue
        session.add(
            Alert(
                topic_id=topic_id,
                story_id=story_id,
                article_id=article_id,
                channel=channel,
                status=status,
                attempts=0,
                next_attempt_at=now if status == OUT_PENDING else None,
                created_at=now,
            )
        )
        added += 1
    if added:
        session.flush()
    return added


# --------------------------------------------------------------------------- claim


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 60 s doubling, capped at 6 h, plus jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * (1.0 + random.uniform(0.0, BACKOFF_JITTER))


def _due(now: datetime) -> ColumnElement[bool]:
    """Rows a sender may take at ``now``: pending/failed and due, or sending with an expired lease."""
    return or_(
        and_(
            Alert.status.in_((OUT_PENDING, OUT_FAILED)),
            or_(Alert.next_attempt_at.is_(None), Alert.next_attempt_at <= now),
        ),
        and_(
            Alert.status == OUT_SENDING,
            or_(Alert.claimed_until.is_(None), Alert.claimed_until <= now),
        ),
    )


def _digest_channels(config: Config) -> list[str]:
    return [c.name for c in config.channels if c.digest]


def claim(
    factory: sessionmaker[Session],
    config: Config,
    *,
    now: datetime | None = None,
    limit: int = 100,
    lease: float = 300.0,
) -> tuple[list[int], int]:
    """Claim up to ``limit`` due rows for ``lease`` seconds; return (claimed ids, rows lost to others).

    Rows of digest channels are left alone. The claim is committed before returning.
    """
    now = now or utcnow()
    query = select(Alert.id, Alert.status, Alert.attempts).where(_due(now))
    digest = _digest_channels(config)
    if digest:
        query = query.where(Alert.channel.not_in(digest))
    with factory() as session:
        candidates = session.execute(query.order_by(Alert.id).limit(limit)).all()
    if not candidates:
        return [], 0
    until = now + timedelta(seconds=lease)
    claimed: list[int] = []
    with factory() as session, session.begin():
        for row_id, old_status, old_attempts in candidates:
            result = session.execute(
                update(Alert)
                .where(
                    Alert.id == row_id,
                    Alert.status == old_status,
                    Alert.attempts == old_attempts,
                    _due(now),
                )
                .values(status=OUT_SENDING, claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(row_id)
    return claimed, len(candidates) - len(claimed)


# --------------------------------------------------------------------------- send


@dataclass
class _Prepared:
    alert_id: int
    attempts: int
    channel: ChannelConfig | None
    channel_name: str
    title: str = ""
    body: str = ""
    error: str | None = None


def _prepare(factory: sessionmaker[Session], config: Config, alert_id: int) -> _Prepared | None:
    """Read one claimed row and render its message (a read-only session, closed before sending)."""
    channels = {c.name: c for c in config.channels}
    with factory() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:  # deleted meanwhile (its article or topic went away)
            return None
        prepared = _Prepared(alert.id, alert.attempts, channels.get(alert.channel), alert.channel)
        if prepared.channel is None:
            return prepared
        try:
            prepared.title, prepared.body = render(build_view(session, alert, config.tz), config.tz)
        except Exception as exc:  # a broken row must not stop the others
            log.exception("alert %s: cannot render the message", alert_id)
            prepared.error = f"cannot render the message: {type(exc).__name__}: {exc}"
    return prepared


def _result_json(result: SendResult) -> dict:
    return {"ok": result.ok, "services": result.results, "error": result.error}


def _mark_sent(factory: sessionmaker[Session], item: _Prepared, result: SendResult, now: datetime) -> None:
    with factory() as session, session.begin():
        session.execute(
            update(Alert)
            .where(Alert.id == item.alert_id, Alert.status.in_((OUT_SENDING, OUT_FAILED)))
            .values(
                status=OUT_SENT,
                attempts=item.attempts + 1,
                sent_at=now,
                claimed_until=None,
                next_attempt_at=None,
                result=_result_json(result),
            )
            .execution_options(synchronize_session=False)
        )


def _mark_failed(
    factory: sessionmaker[Session],
    item: _Prepared,
    error: str,
    result: SendResult | None,
    now: datetime,
    *,
    dead: bool,
) -> None:
    attempts = item.attempts + 1
    values = {
        "status": OUT_DEAD if dead else OUT_FAILED,
        "attempts": attempts,
        "claimed_until": None,
        "next_attempt_at": None if dead else now + timedelta(seconds=backoff(attempts)),
        "last_error": " ".join(error.split()),
    }
    if result is not None:
        values["result"] = _result_json(result)
    with factory() as session, session.begin():
        session.execute(
            update(Alert)
            .where(Alert.id == item.alert_id, Alert.status == OUT_SENDING, Alert.attempts == item.attempts)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _deliver(
    factory: sessionmaker[Session], config: Config, alert_id: int, now: datetime | None, max_attempts: int
) -> str | None:
    """Send one claimed row and record the outcome; return 'sent', 'failed', 'dead' or None (row gone)."""
    item = _prepare(factory, config, alert_id)
    if item is None:
        return None
    if item.channel is None:
        error = f"channel {item.channel_name!r} is no longer in the config; alert not sent"
        _mark_failed(factory, item, error, None, now or utcnow(), dead=True)
        log.warning("alert %s: %s", alert_id, error)
        return "dead"
    result = None
    if item.error is None:
        result = send_message(item.channel.url, item.title, item.body, channel=item.channel.name)
        if result.ok:
            _mark_sent(factory, item, result, now or utcnow())
            log.info("alert %s sent to %s: %s", alert_id, item.channel_name, item.title)
            return "sent"
    error = item.error or (result.error if result else None) or "delivery failed"
    dead = item.attempts + 1 >= max_attempts
    _mark_failed(factory, item, error, result, now or utcnow(), dead=dead)
    log.warning(
        "alert %s to %s failed (attempt %d/%d%s): %s",
        alert_id,
        item.channel_name,
        item.attempts + 1,
        max_attempts,
        ", giving up" if dead else "",
        error,
    )
    return "dead" if dead else "failed"


def send_pending(
    factory: sessionmaker[Session],
    config: Config,
    *,
    now: datetime | None = None,
    limit: int = 100,
    lease: float = 300.0,
    max_attempts: int = 8,
) -> SendStats:
    """Claim due rows, send each through apprise, record sent / failed (with backoff) / dead.

    Rows of channels with a ``digest`` schedule stay pending (digests send them). A row whose
    channel is no longer in the config is marked dead with a clear ``last_error``.
    """
    claimed, lost = claim(factory, config, now=now, limit=limit, lease=lease)
    stats = SendStats(skipped=lost)
    for alert_id in claimed:
        outcome = _deliver(factory, config, alert_id, now, max_attempts)
        if outcome == "sent":
            stats.sent += 1
        elif outcome == "failed":
            stats.failed += 1
        elif outcome == "dead":
            stats.dead += 1
    return stats
