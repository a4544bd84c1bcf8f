"""Through an outage, still exactly once: a database that goes away (a TCP proxy in front of the
test's own PostgreSQL database, cut and restored: the shared server is never stopped), and a
webhook that answers too late.

Nothing is mocked: the daemon is a subprocess, the webhook a local HTTP server, the database real.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from monitor.alerts.outbox import send_pending
from monitor.dates import utcnow
from monitor.db.migrate import upgrade
from monitor.db.models import Alert, OutboxStatus
from monitor.db.session import make_engine, make_sessionmaker
from monitor.scheduler import run_daemon
from tests.helpers import (
    FAST,
    SEGHROUCHNI,
    Daemon,
    add_story,
    hook,
    http_get,
    make_config,
    serve_feed,
    story,
    wait_for,
)
from tests.helpers import channels_config as config
from tests.servers import Request, Response, TcpProxy, free_port


@pytest.fixture
def database(pg_url):
    """(proxy, URL): this test process's own PostgreSQL database, emptied, reached through a
    proxy the test can cut."""
    pg = make_url(pg_url)
    proxy = TcpProxy((pg.host or "127.0.0.1", pg.port or 5432))
    url = pg.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy, url
    proxy.close()


def the_alert(factory) -> Alert:
    with factory() as s:
        (alert,) = s.scalars(select(Alert)).all()
        return alert


# --------------------------------------------------------------------------- the daemon


def test_healthz_names_an_unreachable_database_and_the_log_tells_the_outage_once(tmp_path, database, site):
    proxy, url = database
    serve_feed(site, "/feed.xml", [])
    cfg = make_config(tmp_path, url, [{"name": "Atlas", "feed": site.url("/feed.xml"), "interval": "1s"}],
                      hook(site))  # fmt: skip
    port = free_port()
    daemon = Daemon(cfg, tmp_path, "--http", f"127.0.0.1:{port}")
    seen: dict = {}

    def health(status: int, down_for: float = 0.0):
        def check() -> bool:
            try:
                code, body = http_get(port, "/healthz")
            except OSError:  # not listening yet
                return False
            seen.clear()
            seen.update(code=code, **json.loads(body))
            return code == status and seen.get("database_down_seconds", 0) >= down_for

        return check

    try:
        wait_for(health(200), 60, "a healthy daemon")
        assert "database" not in seen
        proxy.cut()
        wait_for(health(503, down_for=3.0), 60, "/healthz to report the outage for 3 s (10 ticks)")
        assert seen["ok"] is False
        assert seen["database"].startswith("unreachable: ") and "\n" not in seen["database"], seen  # the driver's line
        proxy.restore()
        wait_for(health(200), 60, "/healthz to recover")
        assert "database" not in seen and seen["ok"] is True
        code, _ = daemon.stop()
    finally:
        daemon.kill()
    log = daemon.log
    assert code == 0, log
    assert log.count("database unreachable: ") == 1, log
    assert log.count("database reachable again after ") == 1, log
    assert "Traceback" not in log and "raised an exception" not in log, log


class _Stopping(logging.Handler):
    """Sets ``seen`` when the daemon logs that it is stopping."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("stopping:"):
            self.seen.set()


def test_an_alert_in_flight_when_the_daemon_stops_is_finished_and_recorded(tmp_path, site, caplog):
    """Stopping lets a send in progress end: cut short (APScheduler's shutdown cancels running
    jobs), it logged a CancelledError traceback, and its record raced the exit."""
    serve_feed(site, "/feed.xml", [story(site, "/2026/11/a/", "Seghrouchni in Tangier", SEGHROUCHNI)])
    cfg = make_config(tmp_path, f"sqlite:///{tmp_path / 'm.db'}", [{"name": "A", "feed": site.url("/feed.xml")}],
                      site.base[7:] + "/hook")  # fmt: skip
    stopping = _Stopping()
    logging.getLogger("monitor.scheduler").addHandler(stopping)

    async def go() -> None:
        stop, loop = asyncio.Event(), asyncio.get_running_loop()

        def receive(_req: Request) -> Response:  # the alert arrives: stop the daemon, answer after
            loop.call_soon_threadsafe(stop.set)
            stopping.seen.wait(30)
            return Response("ok", content_type="text/plain")

        site.route("/hook", receive)
        await run_daemon(cfg, FAST, tick=0.2, send_every=0.5, stop_event=stop)

    try:
        with caplog.at_level(logging.INFO):
            asyncio.run(go())
    finally:
        logging.getLogger("monitor.scheduler").removeHandler(stopping)
    assert stopping.seen.is_set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert len(site.posts("/hook")) == 1
    engine = make_engine(cfg.database)
    assert the_alert(make_sessionmaker(engine)).status == OutboxStatus.SENT
    engine.dispose()


# --------------------------------------------------------------------------- the outbox


def test_a_delivered_alert_whose_outcome_cannot_be_recorded_is_recorded_before_any_reclaim(database, site):
    """The database goes away while the webhook receives the alert: the send succeeded, its
    record failed. When the database is back (long after the claim's lease expired), the outcome
    is recorded before anything is claimed: the alert is not delivered a second time."""
    proxy, url = database
    engine = make_engine(url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    add_story(factory, ["hook"])
    cfg = config(("hook", f"json://{site.base[7:]}/hook"))

    def received_then_database_gone(_req: Request) -> Response:
        proxy.cut()  # between the send and its record
        return Response("ok", content_type="text/plain")

    site.route("/hook", received_then_database_gone)
    with pytest.raises(OperationalError):
        send_pending(factory, cfg, lease=300)
    assert len(site.posts("/hook")) == 1

    proxy.restore()
    site.route("/hook", Response("ok", content_type="text/plain"))
    stats = send_pending(factory, cfg, now=utcnow() + timedelta(hours=1))  # the lease is long over
    assert stats.sent == 0
    assert len(site.posts("/hook")) == 1  # delivered once
    alert = the_alert(factory)
    assert alert.status == OutboxStatus.SENT and alert.attempts == 1 and alert.result["ok"] is True
    engine.dispose()


class Held:
    """A webhook that keeps every request until the test ends (it never answers in time)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, _req: Request) -> Response:
        self.release.wait(30)
        return Response("ok", content_type="text/plain")


def test_a_timeout_after_the_request_was_sent_is_delivery_unknown_and_tried_once_more(session_factory, site):
    held = Held()
    site.route("/hook", held)
    add_story(session_factory, ["hook"])
    cfg = config(("hook", f"json://{site.base[7:]}/hook?rto=0.5"))  # apprise's read timeout, test-sized
    try:
        first = send_pending(session_factory, cfg)
        alert = the_alert(session_factory)
        assert first.failed == 1 and alert.status == OutboxStatus.FAILED
        assert alert.last_error.startswith("delivery unknown (sent, no answer in time; the channel may have it): ")
        assert alert.attempts == 7  # of 8: one more attempt, not seven

        second = send_pending(session_factory, cfg, now=utcnow() + timedelta(hours=1))
        alert = the_alert(session_factory)
        assert second.dead == 1 and alert.status == OutboxStatus.DEAD and alert.attempts == 8
        assert third_round_sends_nothing(session_factory, cfg)
        assert len(site.posts("/hook")) == 2
    finally:
        held.release.set()


def third_round_sends_nothing(factory, cfg) -> bool:
    stats = send_pending(factory, cfg, now=utcnow() + timedelta(days=2))
    return stats.sent == stats.failed == stats.dead == 0


def test_channels_wait_longer_than_apprises_four_seconds_by_default(session_factory, site):
    """The receiver answers after 4.5 s: past apprise's own 4 s read timeout, within ours."""
    site.route("/hook", Response("ok", content_type="text/plain", delay=4.5))
    add_story(session_factory, ["hook"])
    stats = send_pending(session_factory, config(("hook", f"json://{site.base[7:]}/hook")))
    alert = the_alert(session_factory)
    assert stats.sent == 1 and alert.status == OutboxStatus.SENT and alert.attempts == 1, alert.last_error
    assert len(site.posts("/hook")) == 1
