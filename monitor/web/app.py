"""The Starlette application: routes, static files, security headers, the token gate.

Every response carries a Content-Security-Policy that allows no inline script and nothing from
another origin (the pages work without JavaScript), and ``Server-Timing: app;dur=…`` (the time the
app took, which ``bench/web.py`` reads).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.config import Config
from monitor.db.models import utcnow
from monitor.web import routes
from monitor.web.auth import TokenGate
from monitor.web.state import HERE, WebState

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class Headers:
    """ASGI middleware adding the security headers and the app's own time to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - start) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"server-timing", f"app;dur={took:.2f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, sending)


def create_app(
    config: Config,
    engine: Engine,
    *,
    clock: Callable[[], datetime] = utcnow,
    page_size: int = 20,
) -> Starlette:
    """The web UI over ``engine`` (opened read-only by the caller: see ``monitor.web.database``)."""
    web = WebState(config, engine, clock=clock, page_size=page_size)

    def error_page(request: Request, status: int, message: str) -> Response:
        if request.url.path.endswith(".atom"):
            return PlainTextResponse(message + "\n", status_code=status)
        return web.render(request, "error.html", {"status": status, "message": message}, status_code=status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_page(request, exc.status_code, str(exc.detail))

    async def database_error(request: Request, exc: Exception) -> Response:
        line = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.error("database error on %s: %s", request.url.path, line[0] if line else exc)
        return error_page(request, 503, "the database is unavailable: " + (line[0] if line else ""))

    app = Starlette(
        routes=[
            Route("/", routes.index),
            Route("/topics/{slug}.atom", routes.topic_feed),
            Route("/topics/{slug}", routes.topic_page),
            Route("/stories/{story_id:int}", routes.story_page),
            Route("/sources", routes.sources_page),
            Route("/alerts", routes.alerts_page),
            Route("/search", routes.search_page),
            Route("/login", routes.login_form, methods=["GET"]),
            Route("/login", routes.login, methods=["POST"]),
            Route("/logout", routes.logout, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(Headers), Middleware(TokenGate, token=web.token, refuse=routes.refuse)],
        exception_handlers={HTTPException: http_error, SQLAlchemyError: database_error},
    )
    app.state.web = web
    return app
