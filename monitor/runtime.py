"""What a running monitor holds: config, database, HTTP client, extraction pool, matcher."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config
from monitor.db.migrate import upgrade
from monitor.db.outage import DatabaseState
from monitor.db.session import make_engine, make_sessionmaker, transaction
from monitor.db.sync import sync_config
from monitor.extract import Extractor, extract_for_store
from monitor.fetch.http import HttpClient
from monitor.match import Matcher
from monitor.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Tunables with sensible defaults (not part of the YAML contract yet)."""

    max_page_attempts: int = 8  # attempts at an article page (2 min, doubling: about 4 h in all)
    page_retry_base: float = 120.0  # seconds; doubles at every failed attempt
    page_retry_max: float = 6 * 3600.0
    source_retry_max: float = 3600.0  # cap on a failing source's backoff
    article_concurrency: int = 16  # article pages in flight at once (per-host limit in HttpClient)
    per_host: int | None = None  # overrides the config's fetch.per_host (benchmarks, tests)
    host_delay: float | None = None  # overrides the config's fetch.delay
    extract_timeout: float = 30.0
    workers: int | None = None  # extraction processes; default: the number of cores


@dataclass
class Runtime:
    config: Config
    engine: Engine
    factory: sessionmaker[Session]
    source_ids: dict[str, int]
    topic_ids: dict[str, int]
    matcher: Matcher
    http: HttpClient
    extractor: Extractor
    settings: Settings = field(default_factory=Settings)
    metrics: Metrics = field(default_factory=Metrics)
    database: DatabaseState = field(default_factory=DatabaseState)  # outages, told once
    topic_channels: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.topic_channels = _topic_channels(self.config)

    def apply(self, config: Config) -> None:
        """Switch to a new config (SIGHUP): sources and topics are synced, the matcher rebuilt.

        The database URL, the fetch settings and the extraction pool stay as they were started.
        """
        matcher = Matcher(config.topics)
        with transaction(self.factory) as session:
            source_ids, topic_ids = sync_config(session, config)
        if config.database != self.config.database or config.fetch != self.config.fetch:
            log.warning("config reload: 'database' and 'fetch' changes apply at the next restart")
        self.config, self.matcher = config, matcher
        self.source_ids, self.topic_ids = source_ids, topic_ids
        self.topic_channels = _topic_channels(config)


def _topic_channels(config: Config) -> dict[str, list[str]]:
    return {t.name: [c.name for c in config.topic_channels(t)] for t in config.topics}


def open_database(config: Config) -> tuple[Engine, sessionmaker[Session]]:
    """Connect, apply migrations, and return the engine and a session factory."""
    engine = make_engine(config.database)
    upgrade(engine)
    return engine, make_sessionmaker(engine)


@asynccontextmanager
async def open_runtime(config: Config, settings: Settings | None = None) -> AsyncIterator[Runtime]:
    """Everything the pipeline needs, released on exit."""
    settings = settings or Settings()
    matcher = Matcher(config.topics)  # fails early on a bad query
    engine, factory = open_database(config)
    with transaction(factory) as session:
        source_ids, topic_ids = sync_config(session, config)
    extractor = Extractor(workers=settings.workers, timeout=settings.extract_timeout, func=extract_for_store)
    extractor.start()  # workers warm up while the sources are fetched
    try:
        fetch = config.fetch
        http_options = {
            "per_host": settings.per_host or fetch.per_host,
            "delay": fetch.delay_seconds if settings.host_delay is None else settings.host_delay,
            "timeout": fetch.timeout,
            "allow_private": fetch.allow_private,
        }
        if fetch.user_agent:
            http_options["user_agent"] = fetch.user_agent
        async with HttpClient(**http_options) as http:
            yield Runtime(config, engine, factory, source_ids, topic_ids, matcher, http, extractor, settings)
    finally:
        extractor.close()
        engine.dispose()
