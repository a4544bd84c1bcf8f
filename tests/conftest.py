"""Shared fixtures: databases (SQLite file and the local PostgreSQL) and local servers."""

from __future__ import annotations

import os
import re

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.db.migrate import upgrade
from monitor.db.session import make_engine, make_sessionmaker
from tests.servers import Site, SmtpSink

# The server's `test` database is only the door: each test process (an xdist worker, or a second
# checkout's run beside this one) works in a database of its own, created from it and dropped at
# the end, so runs in parallel never reset each other's schema.
BASE_PG_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_OWN_DB = re.compile(r"monitor_test_\w+?_(\d+)$")
PG_URL = BASE_PG_URL


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _create_own_database() -> str:
    """A fresh database for this process (dropping those left by runs that died); its URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"monitor_test_{worker}_{os.getpid()}"
    admin = make_engine(BASE_PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for (old,) in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'monitor_test_%'")):
                found = _OWN_DB.match(old)
                if found and not _pid_alive(int(found.group(1))):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(BASE_PG_URL).set(database=name).render_as_string(hide_password=False)


def _drop_own_database(url: str) -> None:
    admin = make_engine(BASE_PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    global PG_URL
    try:
        PG_URL = _create_own_database()
    except Exception:
        yield False
        return
    yield True
    _drop_own_database(PG_URL)


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
