"""``monitor serve``: check the address and the database, then run uvicorn until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from monitor.config import Config
from monitor.web.auth import bind_problem
from monitor.web.database import DatabaseUnavailable, open_readonly, safe_url

log = logging.getLogger(__name__)


class ServeError(Exception):
    """``monitor serve`` cannot start; the message is one line, ``code`` the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def serve(config: Config, host: str, port: int) -> None:
    """Serve the web UI on ``host:port`` until SIGTERM or SIGINT (uvicorn handles both)."""
    import uvicorn

    from monitor.web.app import create_app

    problem = bind_problem(host, port, config.web.token, config.path)
    if problem:
        raise ServeError(problem, 2)
    try:
        engine = open_readonly(config.database)
    except DatabaseUnavailable as exc:
        raise ServeError(str(exc)) from None
    app = create_app(config, engine)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # our logging setup (text or JSON) applies
            access_log=False,
            server_header=False,
            proxy_headers=True,  # X-Forwarded-Proto from a proxy on this machine: Secure cookies
        )
    )
    where = f"[{host}]" if ":" in host else host
    log.info(
        "serving %s read-only on http://%s:%d%s",
        safe_url(config.database),
        where,
        port,
        "" if config.web.token is None else " (token required)",
    )
    try:
        with _quiet_signals():
            server.run()
    finally:
        engine.dispose()
    if not server.started:
        raise ServeError(f"--http {host}:{port}: could not listen (see the error above)")


@contextmanager
def _quiet_signals() -> Iterator[None]:
    """Let a SIGTERM/SIGINT end the process with status 0.

    uvicorn catches both for a graceful shutdown, then raises the signal again under the handler
    it found (so a default handler would kill the process with the signal after all): the handler
    it finds here does nothing, and ``serve`` returns normally.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
