"""Prometheus metrics and the optional HTTP endpoint (`/healthz`, `/metrics`) of the daemon."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from monitor.db.models import Alert, Article


class Metrics:
    """Counters and histograms of one process, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_polls", "Source polls by outcome", ["source", "outcome"], registry=r)
        self.articles = Counter(
            "monitor_articles", "Article pages processed by outcome", ["source", "outcome"], registry=r
        )
        self.matches = Counter("monitor_matches", "Topic matches stored", ["topic"], registry=r)
        self.alerts_sent = Counter(
            "monitor_alerts_sent", "Alert messages sent by outcome", ["outcome"], registry=r
        )
        self.poll_seconds = Histogram(
            "monitor_poll_seconds",
            "Time to poll one source end to end",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.article_seconds = Histogram(
            "monitor_article_seconds",
            "Time to fetch, extract, match and store one article",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r,
        )
        self.last_tick = 0.0  # time.time() of the scheduler's last tick

    def watch_database(self, factory: sessionmaker[Session]) -> None:
        """Also export outbox rows by status and articles by status, read at scrape time."""
        self.registry.register(_DatabaseCollector(factory))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DatabaseCollector:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self):
        alerts = GaugeMetricFamily("monitor_alerts", "Outbox rows by status", labels=["status"])
        articles = GaugeMetricFamily("monitor_articles_stored", "Article rows by status", labels=["status"])
        try:
            with self.factory() as session:
                for status, n in session.execute(select(Alert.status, func.count()).group_by(Alert.status)):
                    alerts.add_metric([status], n)
                for status, n in session.execute(
                    select(Article.status, func.count()).group_by(Article.status)
                ):
                    articles.add_metric([status], n)
        except Exception:  # a scrape must not fail because the database is briefly unavailable
            pass
        yield alerts
        yield articles

    def describe(self):
        return []


def make_app(metrics: Metrics, health: Callable[[], tuple[bool, dict]]) -> web.Application:
    """``/metrics`` (Prometheus text) and ``/healthz`` (200 when ``health()`` says ok, else 503)."""

    async def metrics_view(_request: web.Request) -> web.Response:
        body = metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        ok, details = health()
        return web.Response(
            text=json.dumps({"ok": ok, **details}), status=200 if ok else 503, content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/healthz", healthz)
    return app


async def start_http(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on host:port; returns the runner (``await runner.cleanup()`` to stop)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def tick_age(metrics: Metrics) -> float | None:
    """Seconds since the scheduler's last tick (None before the first)."""
    return time.time() - metrics.last_tick if metrics.last_tick else None
