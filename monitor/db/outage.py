"""Database outages, told once: the daemon's jobs report a database that cannot be reached here
instead of logging a traceback per tick, ``/healthz`` reads the state, and the log gets one line
when an outage starts and one when it ends."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger("monitor.database")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or dropped the connection (as
    opposed to a bug in a query)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def first_line(exc: BaseException) -> str:
    """The first line of the driver's message, without SQLAlchemy's background link."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class DatabaseState:
    """Whether the database answered the last time the daemon needed it (thread-safe: the alert
    sender runs in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: str | None = None  # the first line of the error that started the outage
        self._since = 0.0

    @property
    def down(self) -> bool:
        return self.error is not None

    def down_for(self) -> float:
        """Seconds since the outage started (0 when the database is up)."""
        return time.monotonic() - self._since if self.error is not None else 0.0

    def failed(self, exc: BaseException) -> bool:
        """Note ``exc`` when it is an outage (logged once, at its start) and return True; return
        False for any other error, which the caller handles as before."""
        if not is_outage(exc):
            return False
        with self._lock:
            if self.error is None:
                self.error, self._since = first_line(exc), time.monotonic()
                log.error("database unreachable: %s (work resumes when it is back)", self.error)
        return True

    def reachable(self, asked_at: float) -> None:
        """The database answered a request made at ``asked_at`` (``time.monotonic()``): end the
        outage, if there was one and it began before that request (logged once)."""
        if self.error is None:
            return
        with self._lock:
            if self.error is not None and asked_at > self._since:
                log.warning("database reachable again after %.0fs (was: %s)", self.down_for(), self.error)
                self.error = None
