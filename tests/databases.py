"""PostgreSQL databases of the tests' own: the server's `test` database is only the door.

Each test process (an xdist worker, or a second checkout's run beside this one) works in
databases created for it and dropped at the end, so runs in parallel never reset each other's
schema; databases left by runs that died are dropped when the next one starts.
"""

from __future__ import annotations

import os
import re

from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.db.session import make_engine

BASE_PG_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_OWN_DB = re.compile(r"monitor_test_\w+?_(\d+)$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def create_database(purpose: str = "") -> str:
    """A fresh database for this process (``purpose`` tells two of them apart); its URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"monitor_test_{purpose + '_' if purpose else ''}{worker}_{os.getpid()}"
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


def drop_database(url: str) -> None:
    admin = make_engine(BASE_PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()
