"""Open the configured database for reading only: never create it, never migrate it.

``monitor serve`` runs beside the daemon, which owns the schema. A missing SQLite file is
reported (which file, resolved from which directory, and what creates it) instead of being
created empty, as opening it the ordinary way would; a schema older than this version's is
reported instead of being upgraded. SQLite is opened with ``mode=ro`` and PostgreSQL sessions
are read-only transactions, so no bug in a page can write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from urllib.parse import quote

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.db.migrate import alembic_config

log = logging.getLogger(__name__)

MMAP_BYTES = 1 << 30
HOW_TO_CREATE = "`monitor run` (or `monitor db upgrade`) creates it; serve only reads"


class DatabaseUnavailable(Exception):
    """The database cannot be served; the message is one line naming it and why."""


def safe_url(url: str) -> str:
    """The URL with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The absolute file of a SQLite URL (relative paths resolve from the working directory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser().absolute()


def open_readonly(url: str, *, current_schema: bool = True) -> Engine:
    """A read-only engine on an existing database at the current schema revision.

    Raises :class:`DatabaseUnavailable` with one line when the file is missing, the server is
    unreachable, or the schema is missing or (with ``current_schema``) older than this version's.
    """
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file():
            where = "" if make_url(url).database.startswith("/") else f" (relative to {os.getcwd()})"
            raise DatabaseUnavailable(
                f"database {safe_url(url)}: no such file {path}{where}; {HOW_TO_CREATE}"
            )
        engine = _sqlite_readonly(url, path)
    else:
        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        options = {"options": "-c default_transaction_read_only=on"} if "psycopg" in parsed.drivername else {}
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=options)
    try:
        _check_schema(engine, url, current_schema)
    except DatabaseUnavailable:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseUnavailable(f"database {safe_url(url)}: {_one_line(exc)}") from None
    return engine


def _sqlite_readonly(url: str, path: Path) -> Engine:
    uri = f"file:{quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)

    # The URL keeps SQLAlchemy's file-database pooling; the connection itself comes from creator.
    engine = create_engine(f"sqlite:///{path}", creator=connect)
    _index_hints(engine)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA query_only=ON")
        # Pages read a topic's articles scattered over the file: map it rather than copy each page
        # into every connection's small cache (the OS shares the mapping with the daemon).
        cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cur.close()

    return engine


def _index_hints(engine: Engine) -> None:
    """Let ``select(...).with_hint(Article, "INDEXED BY ix_…", "sqlite")`` reach SQLite.

    Without statistics (nothing runs ANALYZE) SQLite looks an article up by its rowid even where a
    covering index holds every column the query needs, and reading the row means reading past its
    text (overflow pages for a long one): ``INDEXED BY`` makes it use the index. SQLAlchemy
    renders no table hints for SQLite, so this engine's compiler does, for indexes that exist
    (an older schema has none of them, and the hint is then left out).
    """
    with engine.connect() as conn:
        present = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars())
    base = engine.dialect.statement_compiler

    class HintingCompiler(base):
        def get_from_hint_text(self, table, text):
            return text if text.removeprefix("INDEXED BY ").strip() in present else None

    engine.dialect.statement_compiler = HintingCompiler


def _check_schema(engine: Engine, url: str, current: bool) -> None:
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        raise DatabaseUnavailable(f"database {safe_url(url)} has no monitor tables yet; {HOW_TO_CREATE}")
    if revision == head or not current:
        return
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:  # written by a newer monitor: its additions are not read here
        log.warning("database schema %s is newer than this monitor's (%s)", revision, head)
        return
    raise DatabaseUnavailable(
        f"database {safe_url(url)} is at schema revision {revision}, this monitor needs {head}: "
        "run `monitor db upgrade` (serve never changes the database)"
    )


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__
