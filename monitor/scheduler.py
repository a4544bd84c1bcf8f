"""The daemon: an APScheduler tick picks due sources (state in the database), a sender drains
the outbox; SIGTERM/SIGINT stop new work, let in-flight work finish, and exit cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from monitor.alerts.outbox import SendStats, send_pending
from monitor.config import Config
from monitor.db.models import Source, utcnow
from monitor.pipeline import PollReport, poll_all, poll_source
from monitor.runtime import Runtime, Settings, open_runtime

log = logging.getLogger(__name__)


def due_sources(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Names of configured sources whose next poll time has come (or that were never polled)."""
    now = now or utcnow()
    ids = {v: k for k, v in rt.source_ids.items()}
    with rt.factory() as session:
        rows = session.execute(select(Source.id, Source.next_poll_at).where(Source.id.in_(list(ids))))
        return [ids[i] for i, at in rows if at is None or at <= now]


def send_alerts(rt: Runtime) -> SendStats:
    """Drain every due outbox row (blocking: apprise is synchronous)."""
    total = SendStats()
    while True:
        stats = send_pending(rt.factory, rt.config)
        for name in ("sent", "failed", "dead", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if stats.sent + stats.failed + stats.dead < 100:
            return total


async def run_once(config: Config, settings: Settings | None = None) -> tuple[list[PollReport], SendStats]:
    """Poll every source once, process what they lead to, send the alerts."""
    async with open_runtime(config, settings) as rt:
        reports = await poll_all(rt)
        stats = await asyncio.to_thread(send_alerts, rt)
    return reports, stats


async def run_daemon(
    config: Config,
    settings: Settings | None = None,
    *,
    tick: float = 5.0,
    send_every: float = 10.0,
    stop_timeout: float = 120.0,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop_event``), then finish in-flight work and return."""
    stop = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    async with open_runtime(config, settings) as rt:
        in_flight: dict[str, asyncio.Task] = {}

        async def poll_due() -> None:
            if stop.is_set():
                return
            for name in due_sources(rt):
                if name not in in_flight:
                    task = asyncio.create_task(poll_source(rt, config.source(name)))
                    in_flight[name] = task
                    task.add_done_callback(lambda _t, n=name: in_flight.pop(n, None))

        async def send() -> None:
            stats = await asyncio.to_thread(send_alerts, rt)
            if stats.sent or stats.failed or stats.dead:
                log.info("alerts: %d sent, %d failed, %d dead", stats.sent, stats.failed, stats.dead)

        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": 60, "coalesce": True, "max_instances": 1},
        )
        now = datetime.now(UTC)
        scheduler.add_job(poll_due, "interval", seconds=tick, next_run_time=now, id="poll")
        scheduler.add_job(send, "interval", seconds=send_every, next_run_time=now, id="send")
        scheduler.start()
        log.info(
            "monitor running: %d sources, %d topics, %d channels",
            len(config.sources),
            len(config.topics),
            len(config.channels),
        )
        await stop.wait()
        log.info("stopping: finishing %d poll(s) in flight", len(in_flight))
        scheduler.shutdown(wait=False)
        if in_flight:
            done, pending = await asyncio.wait(list(in_flight.values()), timeout=stop_timeout)
            for task in pending:
                task.cancel()
        await send()
    log.info("stopped")


__all__ = ["due_sources", "run_daemon", "run_once", "send_alerts", "poll_all"]
