"""The web token: who may read the pages when ``web: {token: …}`` is set.

A request is let in with ``Authorization: Bearer TOKEN``, or the session cookie that the login
form sets (HttpOnly, SameSite=Strict: other sites can neither read it nor send it), or, for Atom
feeds only, ``?token=TOKEN`` (feed readers cannot send headers). The cookie holds an HMAC of the
token, not the token: changing the token logs every browser out. Comparisons are constant-time.

Binding anything but loopback without a token is refused (:func:`bind_problem`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "monitor_session"


def bind_problem(host: str, port: int, token: str | None, config_path: str | None) -> str | None:
    """Why ``host`` may not be bound without a token (one line), or None when it may."""
    if token or is_loopback(host):
        return None
    where = config_path or "the config"
    return (
        f"--http {host}:{port}: refusing to serve off loopback without a token: anyone who can reach "
        f"{host} could read your coverage; set web: {{token: ...}} in {where}, or bind 127.0.0.1"
    )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def session_value(token: str) -> str:
    """What the cookie holds: an HMAC of the token, never the token itself."""
    return hmac.new(token.encode(), b"monitor web session", hashlib.sha256).hexdigest()


def token_ok(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def authorized(request: Request, token: str) -> bool:
    """Bearer header, session cookie, or (Atom feeds only) ``?token=``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and token_ok(value.strip(), token):
        return True
    cookie = request.cookies.get(COOKIE)
    if cookie is not None and hmac.compare_digest(cookie.encode(), session_value(token).encode()):
        return True
    return request.url.path.endswith(".atom") and token_ok(request.query_params.get("token"), token)


def local_path(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (no ``//host`` or ``https://``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class TokenGate:
    """ASGI middleware: with a token configured, every page but the login form and static files
    needs it; otherwise ``refuse(request)`` answers (the login page, or a 401 for feeds)."""

    def __init__(
        self, app: ASGIApp, token: str | None, refuse: Callable[[Request], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.token = token
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if path == "/login" or path.startswith("/static/") or authorized(request, self.token):
            await self.app(scope, receive, send)
            return
        response = await self.refuse(request)
        await response(scope, receive, send)
