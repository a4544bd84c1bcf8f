"""Apprise's own log records, captured for the call that wants them, and apprise's service object
for a URL built under that capture.

Apprise reports failures (and rejected URLs) through its ``apprise`` logger; the useful detail
("Connection refused") is often logged at DEBUG level only, and some messages quote the URL.
:func:`captured` keeps the records of its own call (a logger filter keyed by a context variable,
so other threads and the application's log handlers are unaffected) and lets through, to the
application's handlers, only what they would have shown anyway.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import apprise
from apprise import AppriseAsset

from monitor.alerts.channels import prepare_url

_logger = logging.getLogger("apprise")
_buffer: contextvars.ContextVar[list[tuple[int, str]] | None] = contextvars.ContextVar(
    "monitor_apprise_logs", default=None
)


class _Capture(logging.Filter):
    """Keep apprise's records (DEBUG included) for the calls that asked, hide the extra ones."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.users = 0
        self.saved_level = logging.NOTSET
        self.effective = logging.WARNING

    def filter(self, record: logging.LogRecord) -> bool:
        buf = _buffer.get()
        if buf is not None and getattr(record, "apprise_capture", True):
            try:
                buf.append((record.levelno, record.getMessage()))
            except Exception:  # a malformed record must not break sending
                pass
        # Records below the level the application configured go no further.
        return record.levelno >= self.effective

    def enter(self) -> None:
        with self.lock:
            if self.users == 0:
                self.saved_level = _logger.level
                self.effective = _logger.getEffectiveLevel()
                _logger.addFilter(self)
                _logger.setLevel(logging.DEBUG)
            self.users += 1

    def leave(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0:
                _logger.setLevel(self.saved_level)
                _logger.removeFilter(self)


_capture = _Capture()


@contextmanager
def captured() -> Iterator[list[tuple[int, str]]]:
    """Inside, apprise's records of this call (level, message) collect in the yielded list."""
    buf: list[tuple[int, str]] = []
    token = _buffer.set(buf)
    _capture.enter()
    try:
        yield buf
    finally:
        _capture.leave()
        _buffer.reset(token)


def instantiate(url: str, asset: AppriseAsset | None = None) -> tuple[Any, list[tuple[int, str]]]:
    """(apprise's service object for ``url`` or None when apprise rejects it, apprise's records
    about it); ``url`` as the config has it (``logfile://`` paths are prepared here)."""
    with captured() as entries:
        try:
            service = apprise.Apprise.instantiate(
                prepare_url(url.strip()), asset=asset or AppriseAsset(async_mode=False)
            )
        except Exception as exc:  # apprise should not raise; a URL must never break the caller
            entries.append((logging.ERROR, f"{type(exc).__name__}: {exc}"))
            service = None
    return service, entries
