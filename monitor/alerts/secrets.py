"""Which parts of a channel URL are secret: the one masking used by ``check``, ``status``,
``alerts``, the web UI and every error or log line about a channel.

A channel URL mixes what the operator must read (scheme, host, port, recipients, options) with
what nobody should (a password, a webhook token). Apprise knows, per service, which parts are
private: its template tokens and arguments flagged ``private`` (Slack's three tokens, Telegram's
bot token, Discord's webhook id and token, a password) and what ``url(privacy=True)`` hides.
:func:`channel_secrets` asks it, and adds the password of any URL, the values of secret-looking
query parameters (``?token=``, a ``+Authorization=`` header) and random-looking path segments (a
generic webhook's key). A URL apprise cannot parse has everything but its scheme and host treated
as secret. :func:`mask_channel_url` is the URL as written with those parts as ``***``;
:func:`redact` hides them in any text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from monitor.alerts.apprise_log import instantiate
from monitor.alerts.channels import prepare_url
from monitor.urls import is_secret_param

if TYPE_CHECKING:
    from monitor.config import Config

MASK = "***"
MIN_SECRET = 4  # shorter pieces are not searched for in text (they would mask ordinary words)
_SEPARATORS = re.compile(r"[/:@?&=#,]+")
# A path segment that looks like a generated key: long, letters and digits mixed.
_TOKEN_LIKE = re.compile(r"^(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}$")
_USERINFO_PASSWORD = re.compile(r"(?<=://)([^/?#@:]*):([^/?#@]*)@")


def _private_values(service: Any, url: str) -> set[str]:
    """The values apprise's own parser found for the tokens and arguments it flags private."""
    names: set[str] = set()
    for table in ("template_tokens", "template_args"):
        for name, spec in (getattr(service, table, None) or {}).items():
            if isinstance(spec, dict) and spec.get("private"):
                names.update(filter(None, (name, spec.get("alias_of"), spec.get("map_to"))))
    try:
        parsed = type(service).parse_url(prepare_url(url.strip())) or {}
    except Exception:
        parsed = {}
    values: set[str] = set()
    for name in names:
        value = parsed.get(name)
        for item in value if isinstance(value, list | tuple | set) else [value]:
            if isinstance(item, str) and item:
                values.add(item)
    return values


def _hidden_by_apprise(service: Any) -> set[str]:
    """Pieces of the service's full URL that its privacy URL does not show."""
    try:
        full = set(_SEPARATORS.split(service.url(privacy=False)))
        shown = set(_SEPARATORS.split(service.url(privacy=True)))
    except Exception:
        return set()
    return full - shown


def _written_secrets(url: str, *, everything: bool) -> set[str]:
    """Secrets read off the URL as written: the password, secret-looking query values, key-like
    path segments; with ``everything`` (apprise could not parse it), every part but the host."""
    rest = url.split("://", 1)[1] if "://" in url else url
    pieces: set[str] = set()
    try:
        parts = urlsplit("x://" + rest)
        pieces.update(filter(None, [parts.password]))
        query = parse_qsl(parts.query, keep_blank_values=False)
        pieces.update(value for name, value in query if everything or is_secret_param(name.lstrip("+-:")))
        segments = [s for s in parts.path.split("/") if s]
        pieces.update(s for s in segments if everything or _TOKEN_LIKE.match(unquote(s)))
        if everything:
            pieces.update(filter(None, [parts.username]))
            host = parts.netloc.rpartition("@")[2].rsplit(":", 1)[0]  # as written (hostname lowers it)
            if host and "." not in host and host.lower() != "localhost":
                pieces.add(host)  # e.g. slack://TOKEN_A/TOKEN_B/TOKEN_C
    except ValueError:
        if everything:
            pieces.update(_SEPARATORS.split(rest))
    return pieces


def channel_secrets(url: str) -> set[str]:
    """Every secret piece of a channel URL (see the module docstring), each as written, decoded
    and encoded."""
    return service_secrets(url, instantiate(url)[0])


def service_secrets(url: str, service: Any | None) -> set[str]:
    """:func:`channel_secrets` when the caller has apprise's object for ``url`` already (None:
    apprise rejected the URL, so all of it but the scheme and host counts as secret)."""
    pieces = _written_secrets(url, everything=service is None)
    if service is not None:
        pieces |= _private_values(service, url) | _hidden_by_apprise(service)
    out: set[str] = set()
    for piece in pieces:
        for form in (piece, unquote(piece), quote(piece, safe=""), quote(piece, safe="@")):
            if len(form) >= MIN_SECRET:
                out.add(form)
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def mask_channel_url(url: str) -> str:
    """The channel URL as written, its secrets (and any password, however short) as ``***``:
    ``mailtos://user:***@smtp.example.org?to=press@example.org``, ``slack://***/***/***``."""
    masked = _USERINFO_PASSWORD.sub(lambda m: f"{m.group(1)}:{MASK}@" if m.group(2) else m.group(0), url)
    return redact(masked, channel_secrets(url))


def config_secrets(config: Config) -> set[str]:
    """The secrets of every channel of ``config``."""
    return set().union(*(channel_secrets(c.url) for c in config.channels))
