"""Outcomes of finished sends kept in memory while the database is unreachable.

Apprise has delivered (or definitely failed) a message, but the UPDATE recording it cannot reach
the database. Forgetting it would let the row's lease expire and the alert be claimed and sent
again; so the recording is kept here, per database, and run before this process claims anything
again (``outbox.claim_where``). A process that dies meanwhile loses them: at most one duplicate,
as for any crash between a send and its record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from monitor.db.outage import is_outage

log = logging.getLogger("monitor.alerts.outbox")

T = TypeVar("T")

_kept: dict[str, list[Callable[[], object]]] = {}  # database URL -> recordings, oldest first
_lock = threading.Lock()  # the sender and the digests run in worker threads


def _database(factory: sessionmaker[Session]) -> str:
    bind = factory.kw.get("bind")
    return bind.url.render_as_string(hide_password=True) if bind is not None else str(id(factory))


def keep_if_unrecorded(factory: sessionmaker[Session], record: Callable[[], T], what: str = "") -> T:
    """Run ``record`` (the UPDATE recording a send's outcome, ``what`` for the log); when the
    database is unreachable, keep it for :func:`record_kept` and re-raise."""
    try:
        return record()
    except Exception as exc:
        if is_outage(exc):
            with _lock:
                _kept.setdefault(_database(factory), []).append(record)
            if what:
                log.warning("%s; the database is unreachable: recorded when it is back", what)
        raise


def record_kept(factory: sessionmaker[Session]) -> int:
    """Record the outcomes kept while the database was unreachable; returns how many. Raises
    (keeping the rest) while it still is."""
    done = 0
    with _lock:
        waiting = _kept.get(_database(factory), [])
        while waiting:
            waiting[0]()
            waiting.pop(0)
            done += 1
    if done:
        log.info("recorded %d alert outcome(s) kept while the database was unreachable", done)
    return done
