"""``--notify``: one digest message per channel for the whole backfill.

Backfill outbox rows are ``skipped`` (the daemon never sends them). At the end of a ``--notify``
run, the skipped rows of the run's sources and topics whose article is dated in the range (and
not withdrawn by ``topics rematch``) are rendered as ONE digest per channel with the existing
digest rendering (grouped by topic then story, "also reported by"), sent through apprise, and
marked sent with one ``bundle_id`` (flood control counts one message). More than ``BUNDLE_MAX``
rows take several messages. A failed send leaves the rows skipped: a later ``--notify`` run sends
them; a crash between sending and marking sends that digest again (at least once, never a storm of
single alerts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from monitor.alerts.outbox import BUNDLE_MAX, mark_sent
from monitor.alerts.render import BatchView, build_view, format_time, render_batch
from monitor.alerts.send import send_rendered
from monitor.backfill.summary import DigestOutcome
from monitor.dates import DateRange, utcnow
from monitor.db.models import Alert, Article, OutboxStatus
from monitor.runtime import Runtime

log = logging.getLogger("monitor.backfill")


def _digest_rows(
    session, window: DateRange, source_ids: list[int], topic_ids: list[int]
) -> list[tuple[int, str]]:
    """(alert id, channel) of the skipped backfill rows for these sources, topics and range."""
    return list(
        session.execute(
            select(Alert.id, Alert.channel)
            .join(Article, Article.id == Alert.article_id)
            .where(
                Alert.status == OutboxStatus.SKIPPED,
                Alert.last_error.is_(None),  # not a match withdrawn by `topics rematch`
                Alert.topic_id.in_(topic_ids),
                Article.source_id.in_(source_ids),
                Article.published_at.between(window.start, window.end),
            )
            .order_by(Alert.id)
        )
    )


def send_backfill_digests(
    rt: Runtime, window: DateRange, sources: Sequence[str], topics: Sequence[str]
) -> list[DigestOutcome]:
    """One message per channel listing the run's unsent (topic, story) rows; the rows are then
    marked sent. Rows of a failed channel stay skipped (a later ``--notify`` run sends them)."""
    config = rt.config
    with rt.factory() as session:
        rows = _digest_rows(
            session, window, [rt.source_ids[s] for s in sources], [rt.topic_ids[t] for t in topics]
        )
    by_channel: dict[str, list[int]] = {}
    for alert_id, channel in rows:
        by_channel.setdefault(channel, []).append(alert_id)
    outcomes = []
    for channel in config.channels:
        ids = by_channel.get(channel.name)
        if not ids:
            continue
        outcome = DigestOutcome(channel.name, rows=len(ids))
        for i in range(0, len(ids), BUNDLE_MAX):
            error = _send_digest(rt, channel.name, channel.url, ids[i : i + BUNDLE_MAX], window)
            if error:
                outcome.error = error
                break
            outcome.messages += 1
        outcomes.append(outcome)
    return outcomes


def _send_digest(rt: Runtime, channel: str, url: str, ids: list[int], window: DateRange) -> str | None:
    tz = rt.config.tz
    try:
        with rt.factory() as session:
            alerts = session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)).all()
            views = [build_view(session, alert, tz) for alert in alerts]
        note = (
            f"Backfill: articles published from {format_time(window.start, tz)} "
            f"to {format_time(window.end, tz)}, found by `monitor backfill`."
        )
        batch = BatchView(
            kind="digest", channel=channel, items=views, since=window.start, until=window.end, note=note
        )
        message = render_batch(batch, tz)
    except Exception as exc:  # a broken row must not lose the others
        log.exception("backfill digest to %s: cannot render the message", channel)
        return f"cannot render the message: {type(exc).__name__}: {exc}"
    result = send_rendered(url, message, channel=channel)
    if not result.ok:
        log.warning("backfill digest to %s failed: %s", channel, result.error)
        return result.error or "delivery failed"
    mark_sent(rt.factory, ids, result, utcnow(), was=(OutboxStatus.SKIPPED,))
    log.info("sent to %s: %s", channel, message.title)
    return None
