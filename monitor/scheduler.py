"""The daemon: an APScheduler tick picks due sources (state in the database), a sender drains
the outbox; SIGHUP reloads the config; SIGTERM/SIGINT stop new work, let in-flight work finish,
and exit cleanly. Jobs only call the units of work in pipeline / alerts / health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from monitor.alerts.digest import DigestStats, send_digests
from monitor.alerts.outbox import SendStats, send_pending
from monitor.alerts.send import send_message
from monitor.checks import load_config
from monitor.config import Config, ConfigError
from monitor.dates import utcnow
from monitor.db.models import Source
from monitor.health import source_health
from monitor.metrics import make_app, start_http, tick_age
from monitor.pipeline import PollReport, poll_all, poll_source
from monitor.runtime import Runtime, Settings, open_runtime

log = logging.getLogger(__name__)


class DaemonError(Exception):
    """The daemon cannot start (e.g. its HTTP port is taken); the message is one line."""


def due_sources(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Names of configured sources whose next poll time has come (or that were never polled)."""
    now = now or utcnow()
    ids = {v: k for k, v in rt.source_ids.items()}
    with rt.factory() as session:
        rows = session.execute(
            select(Source.id, Source.next_poll_at, Source.disabled_reason).where(Source.id.in_(list(ids)))
        )
        return [ids[i] for i, at, disabled in rows if not disabled and (at is None or at <= now)]


def send_alerts(rt: Runtime) -> SendStats:
    """Drain every due outbox row (blocking: apprise is synchronous)."""
    total = SendStats()
    while True:
        stats = send_pending(rt.factory, rt.config)
        total.add(stats)
        for outcome in ("sent", "failed", "dead"):
            if getattr(stats, outcome):
                rt.metrics.alerts_sent.labels(outcome=outcome).inc(getattr(stats, outcome))
        if stats.sent + stats.failed + stats.dead < 100:
            return total


def reload_config(rt: Runtime) -> bool:
    """Re-read the config file and apply it; a broken file is reported and the old one kept."""
    try:
        new = load_config(rt.config.path)
    except ConfigError as exc:
        log.error("config reload failed, keeping the running config: %s", exc)
        return False
    before_sources, before_topics = set(rt.source_ids), set(rt.topic_ids)
    rt.apply(new)
    added = sorted(set(rt.source_ids) - before_sources)
    removed = sorted(before_sources - set(rt.source_ids))
    log.info(
        "config reloaded: %d sources (+%s, -%s), %d topics (+%s, -%s)",
        len(rt.source_ids),
        ", ".join(added) or "0",
        ", ".join(removed) or "0",
        len(rt.topic_ids),
        ", ".join(sorted(set(rt.topic_ids) - before_topics)) or "0",
        ", ".join(sorted(before_topics - set(rt.topic_ids))) or "0",
    )
    return True


class OperatorAlerts:
    """Tells the operator channel when a source starts failing or goes silent (once per episode)."""

    def __init__(self) -> None:
        self.flagged: set[tuple[str, str]] = set()

    def check(self, rt: Runtime) -> list[str]:
        channel = next((c for c in rt.config.channels if c.name == rt.config.operator_channel), None)
        if channel is None:
            return []
        with rt.factory() as session:
            health = source_health(session, rt.config)
        current = {(h.name, flag) for h in health for flag in h.flags}
        sent = []
        for name, flag in sorted(current - self.flagged):
            h = next(x for x in health if x.name == name)
            detail = (
                h.last_error
                if flag in ("failing", "disabled")
                else f"no new article since {h.last_item_at:%Y-%m-%d %H:%M} UTC"
            )
            result = send_message(channel.url, f"[monitor] source {name!r} is {flag}", f"{name} ({h.url}): {detail}",
                                  channel=channel.name)  # fmt: skip
            if result.ok:
                sent.append(f"{name}: {flag}")
            else:
                log.warning("operator alert for %r not sent: %s", name, result.error)
                current.discard((name, flag))  # try again at the next check
        self.flagged = current
        return sent


def send_due_digests(rt: Runtime) -> DigestStats:
    """Send the digest of every digest channel whose period has ended (blocking)."""
    stats = send_digests(rt.factory, rt.config)
    for outcome in ("sent", "failed", "dead"):
        if getattr(stats, outcome):
            rt.metrics.alerts_sent.labels(outcome=outcome).inc(getattr(stats, outcome))
    return stats


async def run_once(config: Config, settings: Settings | None = None) -> tuple[list[PollReport], SendStats]:
    """Poll every source once, process what they lead to, send the alerts (and digests whose
    period has ended, so a cron-driven ``run --once`` delivers them too)."""
    async with open_runtime(config, settings) as rt:
        reports = await poll_all(rt)
        stats = await asyncio.to_thread(send_alerts, rt)
        await asyncio.to_thread(send_due_digests, rt)
    return reports, stats


def _config_mtime(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:
        return None


def _outage_aware(
    rt: Runtime, job: Callable[[], Awaitable[None]], running: set[asyncio.Task], *, proves_up: bool = True
) -> Callable[[], Awaitable[None]]:
    """``job`` for the scheduler: a database outage is noted in ``rt.database`` (one log line per
    outage, and /healthz answers 503) instead of a traceback per run; a run that went through
    (``proves_up``: it always reads the database) ends the outage. Runs are kept in ``running``
    so that stopping lets them finish (APScheduler's shutdown would cancel them midway)."""

    async def run() -> None:
        task, started = asyncio.current_task(), time.monotonic()
        if task is not None:
            running.add(task)
        try:
            await job()
        except Exception as exc:
            if not rt.database.failed(exc):
                raise
        else:
            if proves_up:  # a run that began before the outage proves nothing
                rt.database.reachable(started)
        finally:
            running.discard(task)

    run.__name__ = job.__name__
    return run


async def run_daemon(
    config: Config,
    settings: Settings | None = None,
    *,
    tick: float = 5.0,
    send_every: float = 10.0,
    health_every: float = 300.0,
    stop_timeout: float = 120.0,
    stop_event: asyncio.Event | None = None,
    http: tuple[str, int] | None = None,
    watch_config: bool = False,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop_event``), then finish in-flight work and return."""
    stop = stop_event or asyncio.Event()
    reload_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig, handler in (
        (signal.SIGTERM, stop.set),
        (signal.SIGINT, stop.set),
        (signal.SIGHUP, reload_requested.set),
    ):
        with contextlib.suppress(
            NotImplementedError, RuntimeError, ValueError
        ):  # not the main thread (tests)
            loop.add_signal_handler(sig, handler)
    async with open_runtime(config, settings) as rt:
        rt.metrics.watch_database(rt.factory)
        in_flight: dict[str, asyncio.Task] = {}
        operator = OperatorAlerts()
        seen_mtime = _config_mtime(config.path)
        scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": 60, "coalesce": True, "max_instances": 1},
        )

        def send_soon(task: asyncio.Task) -> None:
            if not task.cancelled() and task.exception() is None and task.result().matched:
                job = scheduler.get_job("send")
                if job is not None:  # alert within seconds, not at the next sender run
                    job.modify(next_run_time=datetime.now(UTC))

        async def poll_due() -> None:
            nonlocal seen_mtime
            rt.metrics.last_tick = time.time()
            if stop.is_set():
                return
            if watch_config and _config_mtime(rt.config.path) != seen_mtime:
                seen_mtime = _config_mtime(rt.config.path)
                reload_requested.set()
            if reload_requested.is_set():
                reload_requested.clear()
                reload_config(rt)
            for name in due_sources(rt):
                if name not in in_flight:
                    task = asyncio.create_task(poll_source(rt, rt.config.source(name)))
                    in_flight[name] = task
                    task.add_done_callback(lambda _t, n=name: in_flight.pop(n, None))
                    task.add_done_callback(send_soon)

        async def send() -> None:
            stats = await asyncio.to_thread(send_alerts, rt)
            if stats.sent or stats.failed or stats.dead:
                log.info("alerts: %d sent, %d failed, %d dead", stats.sent, stats.failed, stats.dead)

        async def digests() -> None:
            stats = await asyncio.to_thread(send_due_digests, rt)
            if stats.digests or stats.failed or stats.dead:
                log.info("digests: %d sent (%d alerts), %d failed, %d dead", stats.digests, stats.sent,
                         stats.failed, stats.dead)  # fmt: skip

        async def check_health() -> None:
            for line in await asyncio.to_thread(operator.check, rt):
                log.warning("operator alerted: %s", line)

        def healthy() -> tuple[bool, dict]:
            age = tick_age(rt.metrics)
            ok = age is not None and age < max(3 * tick, 30) and not rt.database.down
            details = {"last_tick_seconds_ago": round(age, 1) if age is not None else None,
                       "sources": len(rt.source_ids), "polls_in_flight": len(in_flight)}  # fmt: skip
            if rt.database.down:
                details["database"] = f"unreachable: {rt.database.error}"
                details["database_down_seconds"] = round(rt.database.down_for(), 1)
            return ok, details

        runner = None
        if http:  # bind first: a busy port stops the start before any work begins
            try:
                runner = await start_http(make_app(rt.metrics, healthy), *http)
            except OSError as exc:
                raise DaemonError(
                    f"cannot serve http://{http[0]}:{http[1]}/: {exc.strerror or exc}"
                ) from None
        now = datetime.now(UTC)
        running: set[asyncio.Task] = set()  # job runs in progress
        for func, seconds, proves_up, first in (
            (poll_due, tick, True, {"next_run_time": now}),
            (send, send_every, True, {"next_run_time": now}),
            (digests, 30, False, {"next_run_time": now}),  # reads the database for digest channels only
            (check_health, health_every, False, {}),  # a no-op without an operator channel; first run later
        ):
            job = _outage_aware(rt, func, running, proves_up=proves_up)
            scheduler.add_job(job, "interval", seconds=seconds, id=func.__name__, **first)
        scheduler.start()
        log.info(
            "monitor running: %d sources, %d topics, %d channels%s",
            len(rt.config.sources),
            len(rt.config.topics),
            len(rt.config.channels),
            f"; http://{http[0]}:{http[1]}/metrics" if http else "",
        )
        await stop.wait()
        log.info("stopping: finishing %d poll(s) in flight", len(in_flight))
        scheduler.pause()  # no new run; those in progress finish (a shutdown would cancel them)
        if running:
            await asyncio.wait(set(running), timeout=stop_timeout)
        scheduler.shutdown(wait=False)
        if in_flight:
            _done, pending = await asyncio.wait(list(in_flight.values()), timeout=stop_timeout)
            for task in pending:
                task.cancel()
            if pending:  # let them unwind before the runtime (HTTP client, pool) closes
                log.warning("stop timeout: %d poll(s) cut short; they resume at the next start", len(pending))
                await asyncio.wait(pending, timeout=10)
        await _outage_aware(rt, send, running)()
        if runner is not None:
            await runner.cleanup()
    log.info("stopped")


__all__ = ["DaemonError", "due_sources", "run_daemon", "run_once", "send_alerts", "reload_config", "poll_all"]
