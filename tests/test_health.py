"""Source health, metrics text and structured logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import UTC, datetime, timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Config, SourceConfig
from monitor.db.models import Article, Source
from monitor.db.session import transaction
from monitor.health import flags_for, source_health, usual_gap
from monitor.logs import JsonFormatter, TextFormatter, _ContextFilter, log_context
from monitor.metrics import Metrics, make_app, start_http

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_usual_gap_is_the_median_gap():
    times = [NOW - timedelta(hours=h) for h in (0, 1, 2, 3, 10)]
    assert usual_gap(times) == timedelta(hours=1)
    assert usual_gap(times[:4]) is None  # too few to learn a cadence


def test_flags():
    hourly = timedelta(hours=1)
    base = dict(consecutive_failures=0, interval=600, gap=hourly, disabled=None, now=NOW)
    assert flags_for(last_item_at=NOW - timedelta(hours=3), **base) == []
    assert flags_for(last_item_at=NOW - timedelta(hours=5), **base) == ["silent"]
    daily = dict(base, gap=timedelta(days=1))
    assert flags_for(last_item_at=NOW - timedelta(hours=30), **daily) == []
    assert flags_for(last_item_at=NOW, **dict(base, consecutive_failures=3)) == ["failing"]
    assert flags_for(last_item_at=None, **dict(base, gap=None)) == []


def test_source_health_from_the_database(session_factory):
    config = Config(
        sources=[
            SourceConfig(name="Busy", feed="https://busy.example/feed"),
            SourceConfig(name="Broken", feed="https://broken.example/feed"),
        ]
    )
    with transaction(session_factory) as s:
        busy = Source(name="Busy", kind="feed", url="https://busy.example/feed", consecutive_failures=0)
        broken = Source(name="Broken", kind="feed", url="https://broken.example/feed", consecutive_failures=4,
                        last_error="HTTP 500 Internal Server Error")  # fmt: skip
        s.add_all([busy, broken])
        s.flush()
        for i in range(8):  # one article an hour, the last one 6 hours ago
            s.add(Article(source_id=busy.id, url=f"https://busy.example/{i}", fetch_url=f"https://busy.example/{i}",
                          discovered_at=NOW - timedelta(hours=6 + i), status="done"))  # fmt: skip
    with session_factory() as s:
        rows = {h.name: h for h in source_health(s, config, now=NOW)}
    assert rows["Busy"].flags == ["silent"] and rows["Busy"].usual_gap == timedelta(hours=1)
    assert rows["Busy"].items_24h == 8
    assert rows["Broken"].flags == ["failing"] and rows["Broken"].last_error.startswith("HTTP 500")


def test_metrics_endpoint_serves_prometheus_text_and_health(session_factory):
    metrics = Metrics()
    metrics.watch_database(session_factory)
    metrics.polls.labels(source="Atlas", outcome="ok").inc()
    metrics.poll_seconds.observe(0.3)
    state = {"ok": True}

    async def go():
        runner = await start_http(make_app(metrics, lambda: (state["ok"], {"sources": 1})), "127.0.0.1", 0)
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                healthy = (r.status, await r.json())
            state["ok"] = False
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                unhealthy = r.status
        await runner.cleanup()
        return text, healthy, unhealthy

    text, healthy, unhealthy = asyncio.run(go())
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"monitor_polls", "monitor_poll_seconds", "monitor_alerts", "monitor_articles_stored"} <= set(
        families
    )
    sample = next(s for s in families["monitor_polls"].samples if s.name == "monitor_polls_total")
    assert sample.labels == {"source": "Atlas", "outcome": "ok"} and sample.value == 1
    assert healthy == (200, {"ok": True, "sources": 1}) and unhealthy == 503


def _log_line(formatter: logging.Formatter) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_ContextFilter())
    logger = logging.getLogger("monitor.test_health")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(source="Hespress", article="https://x.example/a"):
            logger.warning("page failed: %s", "HTTP 503")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_logs_carry_source_and_article():
    first, second = _log_line(JsonFormatter()).splitlines()
    data = json.loads(first)
    assert data["message"] == "page failed: HTTP 503" and data["level"] == "warning"
    assert data["source"] == "Hespress" and data["article"] == "https://x.example/a"
    assert "source" not in json.loads(second)


def test_text_logs_carry_source_and_article():
    first, second = _log_line(TextFormatter()).splitlines()
    assert first.endswith("page failed: HTTP 503 [source=Hespress article=https://x.example/a]")
    assert second.endswith("outside")
