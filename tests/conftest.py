"""Shared fixtures: databases (SQLite file and the local PostgreSQL) and local servers."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from monitor.db.migrate import upgrade
from monitor.db.session import make_engine, make_sessionmaker
from tests.databases import BASE_PG_URL, create_database, drop_database
from tests.servers import Site, SmtpSink

PG_URL = BASE_PG_URL  # this process's own database, once pg_available made it


@pytest.fixture(scope="session")
def pg_available() -> bool:
    global PG_URL
    try:
        PG_URL = create_database()
    except Exception:
        yield False
        return
    yield True
    drop_database(PG_URL)


def _reset_pg() -> None:
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path, pg_available) -> str:
    """A fresh, empty database URL: a SQLite file, then the local PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return _fresh_pg(pg_available)


@pytest.fixture
def pg_url(pg_available) -> str:
    """This test process's own PostgreSQL database, emptied (for tests that need PostgreSQL)."""
    return _fresh_pg(pg_available)


def _fresh_pg(pg_available: bool) -> str:
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {BASE_PG_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {BASE_PG_URL}")
    _reset_pg()
    return PG_URL


@pytest.fixture
def engine(db_url):
    """An engine on a migrated, empty database."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine):
    return make_sessionmaker(engine)


@pytest.fixture
def site():
    """A local HTTP server on 127.0.0.1 with routes set by the test."""
    s = Site()
    yield s
    s.close()


@pytest.fixture
def smtp():
    """A real SMTP server (aiosmtpd) on 127.0.0.1."""
    s = SmtpSink()
    yield s
    s.close()
