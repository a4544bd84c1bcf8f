"""Digests: a channel with ``digest: "<cron>"`` gets one message per period instead of one per alert.

The cron expression is read in the config's ``timezone`` (APScheduler's ``CronTrigger``). Each
channel's last handled period boundary is kept in ``channel_states``, so periods survive restarts
and several processes agree on them. :func:`send_digests`, run every ~30 s:

1. finds the latest boundary passed since the channel's last one (missed periods, e.g. after a
   downtime, are folded into one message);
2. moves the channel's ``last_digest_at`` to it with a compare-and-set UPDATE: only one process
   wins a period;
3. claims the channel's due rows created up to that boundary (the outbox's compare-and-set claim
   with a lease) and sends them as ONE message grouped by topic then story, each story with every
   outlet that carried it at send time; marks them sent, or failed (retried with backoff at a
   later run, not a period later) and finally dead.

Nothing is sent for an empty period. Rows left behind by a crash (a lease that expired, a period
claimed but not sent) or requeued by ``monitor alerts retry`` go out at the next run.
A channel seen for the first time starts its first period at that moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from monitor.alerts.outbox import BUNDLE_MAX, claim_where, deliver
from monitor.alerts.render import BatchView
from monitor.config import ChannelConfig, Config
from monitor.dates import utcnow
from monitor.db.models import Alert, ChannelState
from monitor.db.outage import is_outage

log = logging.getLogger(__name__)

MAX_STEPS = 100_000  # bound on the cron fire times walked by latest_boundary


@dataclass
class DigestStats:
    """What one :func:`send_digests` run did: messages sent, rows they carried, rows failed/dead,
    and periods that ended with nothing to send."""

    digests: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    empty: int = 0


def _walk(trigger: CronTrigger, after: datetime, now: datetime) -> datetime | None:
    found = None
    moment = after
    for _ in range(MAX_STEPS):
        fire = trigger.get_next_fire_time(None, moment + timedelta(microseconds=1))
        if fire is None or fire > now:
            break
        found = moment = fire
    return found


def latest_boundary(cron: str, tz: tzinfo, after: datetime, now: datetime) -> datetime | None:
    """The last fire time of ``cron`` (in ``tz``) in ``(after, now]``, or None."""
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    recent = now - timedelta(days=1)
    if after < recent:  # far behind (a long stop): look at the last day first
        found = _walk(trigger, recent, now)
        if found is not None:
            return found
    return _walk(trigger, after, now)


def _state(factory: sessionmaker[Session], channel: str, now: datetime) -> datetime | None:
    """The channel's last boundary; a channel seen for the first time starts now (returns None)."""
    with factory() as session:
        last = session.scalar(select(ChannelState.last_digest_at).where(ChannelState.channel == channel))
    if last is not None:
        return last
    try:
        with factory() as session, session.begin():
            session.execute(
                insert(ChannelState).values(channel=channel, last_digest_at=now, updated_at=utcnow())
            )
    except IntegrityError:  # registered meanwhile by another process (or left without a boundary)
        with factory() as session, session.begin():
            session.execute(
                update(ChannelState)
                .where(ChannelState.channel == channel, ChannelState.last_digest_at.is_(None))
                .values(last_digest_at=now, updated_at=utcnow())
            )
    return None


def _advance(factory: sessionmaker[Session], channel: str, last: datetime, boundary: datetime) -> bool:
    """Move the channel's period from ``last`` to ``boundary``; False when another process did."""
    with factory() as session, session.begin():
        moved = session.execute(
            update(ChannelState)
            .where(ChannelState.channel == channel, ChannelState.last_digest_at == last)
            .values(last_digest_at=boundary, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return moved.rowcount == 1


def send_digest(
    factory: sessionmaker[Session],
    config: Config,
    channel: ChannelConfig,
    *,
    now: datetime | None = None,
    lease: float = 300.0,
    max_attempts: int = 8,
) -> DigestStats:
    """Handle one digest channel at ``now`` (see the module docstring)."""
    at = now or utcnow()
    stats = DigestStats()
    last = _state(factory, channel.name, at)
    if last is None:
        return stats
    boundary = latest_boundary(channel.digest, config.tz, last, at)
    since = None
    if boundary is not None and _advance(factory, channel.name, last, boundary):
        since = last  # this process won the period
    else:
        boundary = None  # no period ended, or another process is sending it: only leftovers
    cutoff = boundary or last
    mine = and_(Alert.channel == channel.name, Alert.created_at <= cutoff)
    while True:
        rows, _ = claim_where(factory, mine, now=at, limit=BUNDLE_MAX, lease=lease)
        if not rows:
            break
        batch = BatchView(kind="digest", channel=channel.name, items=[], since=since, until=boundary or last)
        outcome = deliver(
            factory, config, channel.name, rows, batch=batch, now=now, max_attempts=max_attempts
        )
        stats.digests += 1 if outcome.sent else 0
        stats.sent += outcome.sent
        stats.failed += outcome.failed
        stats.dead += outcome.dead
        if len(rows) < BUNDLE_MAX or not outcome.sent:
            break
    if since is not None and not (stats.sent or stats.failed or stats.dead):
        stats.empty += 1
    return stats


def send_digests(
    factory: sessionmaker[Session],
    config: Config,
    now: datetime | None = None,
    *,
    lease: float = 300.0,
    max_attempts: int = 8,
) -> DigestStats:
    """Send the digest of every channel whose period ended (run it every ~30 s). Never raises for
    one channel: a problem is logged and the other channels go on."""
    total = DigestStats()
    for channel in config.channels:
        if not channel.digest:
            continue
        try:
            stats = send_digest(factory, config, channel, now=now, lease=lease, max_attempts=max_attempts)
        except Exception as exc:
            if is_outage(exc):
                raise  # the database is unreachable: not this channel's problem (the daemon tells it once)
            log.exception("digest for channel %r failed", channel.name)
            continue
        for name in ("digests", "sent", "failed", "dead", "empty"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
    return total
