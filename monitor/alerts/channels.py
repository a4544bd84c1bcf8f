"""Credential-free apprise schemes used by the shipped config: ``console://`` and ``logfile://PATH``.

Importing this module registers both with apprise's ``@notify`` decorator, so any
``apprise.Apprise()`` in this process understands them.

``logfile://data/alerts.log`` is relative to the working directory and
``logfile:///var/log/monitor/alerts.log`` is absolute. Apprise's URL parser drops the
leading slash of an absolute path, so :func:`prepare_url` moves the whole path, quoted, into
the host part before the URL reaches apprise; :func:`send.send_message` does this for you.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from apprise import NotifyFormat
from apprise.decorators import notify

CONSOLE = "console"
LOGFILE = "logfile"

_log = logging.getLogger("apprise")


def prepare_url(url: str) -> str:
    """Rewrite ``logfile://PATH`` so that apprise keeps PATH intact (absolute or relative)."""
    prefix = f"{LOGFILE}://"
    if not url.lower().startswith(prefix):
        return url
    path = url[len(prefix) :]
    if "/" not in path:
        return url  # empty, a bare file name, or already prepared
    return prefix + quote(path, safe="")


def logfile_path(meta: dict[str, Any]) -> Path | None:
    """The file a ``logfile://`` URL names, from apprise's parsed ``meta``."""
    raw = (meta.get("host") or "") + (meta.get("fullpath") or "")
    raw = unquote(raw)
    return Path(raw) if raw.strip() else None


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_plain(title: str, body: str) -> str:
    """One alert as a plain-text block: a timestamped title line, the body, a blank line."""
    return f"[{_stamp()}] {title}\n{body.rstrip()}\n\n"


@notify(on=CONSOLE, name="Console (stdout)", body_format=NotifyFormat.TEXT)
def _console(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    """Print the alert to standard output."""
    sys.stdout.write(format_plain(title, body))
    sys.stdout.flush()
    return True


@notify(on=LOGFILE, name="Log file", body_format=NotifyFormat.TEXT)
def _logfile(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    """Append the alert to the file named by the URL, creating its folder if needed."""
    path = logfile_path(meta)
    if path is None:
        _log.warning("logfile:// needs a file path, e.g. logfile://data/alerts.log")
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(format_plain(title, body))
    except OSError as exc:
        _log.warning("cannot write the alert log %s: %s", path, exc.strerror or exc)
        return False
    return True
