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

A send's outcome that cannot be recorded (the database went away meanwhile) is kept in memory
and recorded before the next claim (``outcomes.py``). A send whose outcome is unknown (a timeout
after the request went out) gets one more attempt at most.

Flood control: a channel with ``max_per_hour`` gets at most that many messages in any rolling
hour. When more rows are due than the hour allows, the last message allowed is one *bundle* of
all the remaining rows; once the hour is used up, rows stay pending (held) until a slot frees,
then go out together. Nothing is dropped. Every sent row records the message it went out in
(``bundle_id``: its own id, or the first row of its bundle or digest), which is what is counted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, and_, func, or_, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.outcomes import keep_if_unrecorded, record_kept
from monitor.alerts.render import BatchView, Rendered, build_view, render_batch, render_message
from monitor.alerts.send import SendResult, send_rendered
from monitor.config import ChannelConfig, Config
from monitor.dates import utcnow
from monitor.db.models import Alert, OutboxStatus
from monitor.db.outage import is_outage

log = logging.getLogger(__name__)

BACKOFF_BASE = 60.0  # seconds before the first retry
BACKOFF_CAP = 6 * 3600.0  # never wait longer than this between attempts
BACKOFF_JITTER = 0.1  # up to +10 %, so failed rows do not retry in lockstep


BUNDLE_MAX = 500  # rows in one flood bundle or digest message (more: several messages)
HOUR = timedelta(hours=1)


@dataclass
class SendStats:
    """What one :func:`send_pending` run did, in rows. ``skipped``: due rows another sender
    claimed first; ``held``: due rows kept pending by flood control; ``bundles``: bundled
    messages sent (their rows count in ``sent``)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    held: int = 0
    bundles: int = 0

    def add(self, other: SendStats) -> None:
        for name in ("sent", "failed", "dead", "skipped", "held", "bundles"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --------------------------------------------------------------------------- enqueue


def enqueue(
    session: Session,
    *,
    topic_id: int,
    story_id: int,
    article_id: int,
    channels: Iterable[str],
    status: OutboxStatus = OutboxStatus.PENDING,
) -> int:
    """Add one outbox row per channel for (topic, story) unless it exists; return how many were added.

    Runs inside the caller's transaction (no commit, no savepoint): reads the channels already
    queued for (topic, story), then inserts the missing ones. Assumes one writer per story.
    """
    if status not in (OutboxStatus.PENDING, OutboxStatus.SKIPPED):
        raise ValueError(f"enqueue status must be 'pending' or 'skipped', not {status!r}")
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
                next_attempt_at=now if status == OutboxStatus.PENDING else None,
                created_at=now,
            )
        )
        added += 1
    if added:
        session.flush()
    return added


def withdraw(session: Session, topic_id: int, article_ids: list[int], reason: str) -> None:
    """Skip the topic's rows for these articles that are not sent yet (pending or failed), noting
    ``reason``: their match no longer holds (caller's transaction)."""
    session.execute(
        update(Alert)
        .where(
            Alert.topic_id == topic_id,
            Alert.article_id.in_(article_ids),
            Alert.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
        )
        .values(status=OutboxStatus.SKIPPED, last_error=reason)
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- claim


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 60 s doubling, capped at 6 h, plus jitter."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay * (1.0 + random.uniform(0.0, BACKOFF_JITTER))


def due(now: datetime) -> ColumnElement[bool]:
    """Rows a sender may take at ``now``: pending/failed and due, or sending with an expired lease."""
    return or_(
        and_(
            Alert.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)),
            or_(Alert.next_attempt_at.is_(None), Alert.next_attempt_at <= now),
        ),
        and_(
            Alert.status == OutboxStatus.SENDING,
            or_(Alert.claimed_until.is_(None), Alert.claimed_until <= now),
        ),
    )


@dataclass(frozen=True)
class Claimed:
    """A row this sender holds (status ``sending`` until ``claimed_until``)."""

    id: int
    attempts: int


def claim_where(
    factory: sessionmaker[Session],
    where: ColumnElement[bool],
    *,
    now: datetime,
    limit: int,
    lease: float,
) -> tuple[list[Claimed], int]:
    """Claim up to ``limit`` due rows matching ``where`` (oldest first) with a compare-and-set
    UPDATE each, committed before returning; return (claimed rows, rows lost to other senders).
    Outcomes kept through an outage are recorded first: a row sent meanwhile is not claimed again."""
    record_kept(factory)
    with factory() as session:
        candidates = session.execute(
            select(Alert.id, Alert.status, Alert.attempts)
            .where(due(now), where)
            .order_by(Alert.id)
            .limit(limit)
        ).all()
    if not candidates:
        return [], 0
    until = now + timedelta(seconds=lease)
    claimed: list[Claimed] = []
    with factory() as session, session.begin():
        for row_id, old_status, old_attempts in candidates:
            result = session.execute(
                update(Alert)
                .where(
                    Alert.id == row_id,
                    Alert.status == old_status,
                    Alert.attempts == old_attempts,
                    due(now),
                )
                .values(status=OutboxStatus.SENDING, claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(Claimed(row_id, old_attempts))
    return claimed, len(candidates) - len(claimed)


def claim(
    factory: sessionmaker[Session],
    config: Config,
    *,
    now: datetime | None = None,
    limit: int = 100,  # rows at most
    lease: float = 300.0,  # seconds the claim holds them
    exclude: Iterable[str] = (),  # channels sent by another path (flood-controlled ones)
) -> tuple[list[int], int]:
    """Claim up to ``limit`` due rows for ``lease`` seconds; return (claimed ids, rows lost to others).

    Rows of digest channels and of the ``exclude`` channels are left alone. The claim is
    committed before returning.
    """
    skip = [c.name for c in config.channels if c.digest] + list(exclude)
    where = Alert.channel.not_in(skip) if skip else true()
    claimed, lost = claim_where(factory, where, now=now or utcnow(), limit=limit, lease=lease)
    return [c.id for c in claimed], lost


# --------------------------------------------------------------------------- outcome


def _result_json(result: SendResult) -> dict:
    return {"ok": result.ok, "services": result.results, "error": result.error}


def mark_sent(
    factory: sessionmaker[Session],
    ids: list[int],
    result: SendResult,
    now: datetime,
    *,
    was: tuple[OutboxStatus, ...] = (OutboxStatus.SENDING, OutboxStatus.FAILED),
) -> None:
    """Record that the rows ``ids`` (in a status of ``was``) went out in one message (its
    ``bundle_id``: the smallest row id). By default claimed rows; a row another sender failed
    meanwhile (its lease had expired) was delivered all the same. A backfill digest sends
    skipped rows."""
    if not ids:
        return
    with factory() as session, session.begin():
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids), Alert.status.in_(was))
            .values(
                status=OutboxStatus.SENT,
                attempts=Alert.attempts + 1,
                sent_at=now,
                claimed_until=None,
                next_attempt_at=None,
                bundle_id=min(ids),
                result=_result_json(result),
            )
            .execution_options(synchronize_session=False)
        )


def mark_failed(
    factory: sessionmaker[Session],
    rows: list[Claimed],
    error: str,
    result: SendResult | None,
    now: datetime,
    *,
    max_attempts: int,
    dead: bool = False,
    unknown: bool = False,
) -> tuple[int, int]:
    """Record a failed attempt: each row retries with backoff, or is dead at ``max_attempts``
    (or at once with ``dead``). ``unknown``: the channel may have received it, so at most one
    more attempt is left. Returns (failed, dead) row counts."""
    counts = [0, 0]
    with factory() as session, session.begin():
        for row in rows:
            attempts = max(row.attempts + 1, max_attempts - 1) if unknown else row.attempts + 1
            gone = dead or attempts >= max_attempts
            values = {
                "status": OutboxStatus.DEAD if gone else OutboxStatus.FAILED,
                "attempts": attempts,
                "claimed_until": None,
                "next_attempt_at": None if gone else now + timedelta(seconds=backoff(row.attempts + 1)),
                "last_error": " ".join(error.split()),
            }
            if result is not None:
                values["result"] = _result_json(result)
            session.execute(
                update(Alert)
                .where(
                    Alert.id == row.id, Alert.status == OutboxStatus.SENDING, Alert.attempts == row.attempts
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            counts[1 if gone else 0] += 1
    return counts[0], counts[1]


# --------------------------------------------------------------------------- send


def _views(session: Session, config: Config, ids: list[int]) -> list:
    alerts = session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)).all()
    return [build_view(session, alert, config.tz) for alert in alerts]


def deliver(
    factory: sessionmaker[Session],
    config: Config,
    channel: str,
    rows: list[Claimed],
    *,
    batch: BatchView | None = None,
    now: datetime | None = None,
    max_attempts: int = 8,
) -> SendStats:
    """Send claimed rows of one channel as ONE message (one alert, or ``batch`` filled with
    their views) and record the outcome on every row."""
    stats = SendStats()
    if not rows:
        return stats
    conf = next((c for c in config.channels if c.name == channel), None)
    if conf is None:
        error = f"channel {channel!r} is no longer in the config; alert not sent"
        stats.failed, stats.dead = mark_failed(
            factory, rows, error, None, now or utcnow(), max_attempts=max_attempts, dead=True
        )
        log.warning("alerts %s: %s", [r.id for r in rows], error)
        return stats
    message: Rendered | None = None
    error = None
    try:
        with factory() as session:
            views = _views(session, config, [r.id for r in rows])
        if not views:  # deleted meanwhile (their article or topic went away)
            return stats
        if batch is None:
            message = render_message(views[0], config.tz)
        else:
            batch.items = views
            message = render_batch(batch, config.tz)
    except Exception as exc:  # a broken row must not stop the others
        if is_outage(exc):
            raise  # nothing was sent; the rows are claimed again once their lease expires
        log.exception("alerts %s: cannot render the message", [r.id for r in rows])
        error = f"cannot render the message: {type(exc).__name__}: {exc}"
    result = None
    if message is not None:
        result = send_rendered(conf.url, message, channel=channel)
        if result.ok:
            record = partial(mark_sent, factory, [r.id for r in rows], result, now or utcnow())
            keep_if_unrecorded(factory, record, f"alerts {[r.id for r in rows]} sent to {channel}")
            stats.sent = len(rows)
            log.info("sent to %s: %s", channel, message.title)
            return stats
    error = error or (result.error if result else None) or "delivery failed"
    unknown = bool(result and result.unknown)
    record = partial(mark_failed, factory, rows, error, result, now or utcnow(), max_attempts=max_attempts,
                     unknown=unknown)  # fmt: skip
    stats.failed, stats.dead = keep_if_unrecorded(factory, record)
    log.warning(
        "alerts %s to %s failed (%d will retry, %d gave up): %s",
        [r.id for r in rows],
        channel,
        stats.failed,
        stats.dead,
        error,
    )
    return stats


def messages_last_hour(session: Session, channel: str, now: datetime) -> int:
    """Messages (single alerts, bundles, digests) sent to ``channel`` in the hour before ``now``."""
    return session.scalar(
        select(func.count(func.distinct(func.coalesce(Alert.bundle_id, Alert.id)))).where(
            Alert.channel == channel, Alert.status == OutboxStatus.SENT, Alert.sent_at > now - HOUR
        )
    )


def _send_limited(
    factory: sessionmaker[Session],
    config: Config,
    channel: ChannelConfig,
    *,
    now: datetime | None,
    lease: float,
    max_attempts: int,
) -> SendStats:
    """Flood control for one channel with ``max_per_hour`` (see the module docstring)."""
    at = now or utcnow()
    limit = channel.max_per_hour or 0
    mine = Alert.channel == channel.name
    with factory() as session:
        room = limit - messages_last_hour(session, channel.name, at)
        waiting = session.scalar(select(func.count()).select_from(Alert).where(due(at), mine))
    stats = SendStats()
    if not waiting:
        return stats
    if room <= 0:
        stats.held = waiting
        return stats
    singles = waiting if waiting <= room else room - 1
    claimed, stats.skipped = (
        claim_where(factory, mine, now=at, limit=singles, lease=lease) if singles else ([], 0)
    )
    for row in claimed:
        stats.add(deliver(factory, config, channel.name, [row], now=now, max_attempts=max_attempts))
    if waiting > room:
        rows, lost = claim_where(factory, mine, now=at, limit=BUNDLE_MAX, lease=lease)
        stats.skipped += lost
        note = (
            f"More than {limit} alerts within an hour on this channel: "
            f"these {len(rows)} were held back and are sent together."
        )
        batch = BatchView(kind="bundle", channel=channel.name, items=[], note=note)
        outcome = deliver(
            factory, config, channel.name, rows, batch=batch, now=now, max_attempts=max_attempts
        )
        stats.add(outcome)
        stats.bundles += 1 if outcome.sent else 0
        with factory() as session:  # rows still due beyond one bundle wait for the next slot
            stats.held += session.scalar(select(func.count()).select_from(Alert).where(due(at), mine))
    return stats


def send_pending(
    factory: sessionmaker[Session],
    config: Config,
    *,
    now: datetime | None = None,
    limit: int = 100,  # rows claimed at once
    lease: float = 300.0,  # seconds a claim holds its rows before another sender may take them
    max_attempts: int = 8,  # failed attempts before a row is dead
) -> SendStats:
    """Claim due rows, send each through apprise, record sent / failed (with backoff) / dead.

    Rows of channels with a ``digest`` schedule stay pending (digests send them). Channels with
    ``max_per_hour`` are flood-controlled (module docstring). A row whose channel is no longer in
    the config is marked dead with a clear ``last_error``.
    """
    stats = SendStats()
    limited = [c for c in config.channels if c.max_per_hour and not c.digest]
    for channel in limited:
        stats.add(_send_limited(factory, config, channel, now=now, lease=lease, max_attempts=max_attempts))
    claimed, lost = claim(
        factory, config, now=now, limit=limit, lease=lease, exclude=[c.name for c in limited]
    )
    stats.skipped += lost
    if not claimed:
        return stats
    with factory() as session:
        rows = session.execute(
            select(Alert.id, Alert.channel, Alert.attempts).where(
                Alert.id.in_(claimed), Alert.status == OutboxStatus.SENDING
            )
        ).all()
    for row_id, channel, attempts in sorted(rows):
        stats.add(
            deliver(factory, config, channel, [Claimed(row_id, attempts)], now=now, max_attempts=max_attempts)
        )
    return stats
