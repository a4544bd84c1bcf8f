"""Send one message to one channel URL through apprise, and say precisely why it failed.

Apprise reports failures through its ``apprise`` logger; the useful detail ("Connection
refused") is often logged at DEBUG level only. :func:`send_message` captures those records for
its own call (a logger filter keyed by a context variable, so other threads and the
application's log handlers are unaffected) and turns them into one line with every secret of
the URL (passwords, tokens, path keys) replaced by ``***``.

Apprise waits 4 s for a service to answer by default; many webhooks take longer, and a reply that
comes too late means the service most likely has the message already. Channels get
``DEFAULT_READ_TIMEOUT`` unless their URL sets apprise's ``rto=``, and a read timeout (the
request was sent, no answer came) makes the result *unknown* rather than failed: the outbox then
tries once more at most.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
from apprise import AppriseAsset, NotifyFormat

from monitor.alerts.channels import prepare_url
from monitor.alerts.render import Rendered

MAX_ERROR = 500
DEFAULT_READ_TIMEOUT = 30.0  # seconds a channel may take to answer (apprise's rto=, 4 s by default)
_READ_TIMEOUT = re.compile(r"read timed out", re.I)  # requests' ReadTimeout: sent, no answer

_logger = logging.getLogger("apprise")


@dataclass
class SendResult:
    """The outcome of one send: ``results`` has one entry per apprise service, never a secret."""

    ok: bool
    results: list[dict] = field(default_factory=list)  # {"service": str, "ok": bool, "error": str|None}
    error: str | None = None
    unknown: bool = False  # the request went out but no answer came: the channel may have it


# --------------------------------------------------------------------------- log capture

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
def _captured() -> Iterator[list[tuple[int, str]]]:
    buf: list[tuple[int, str]] = []
    token = _buffer.set(buf)
    _capture.enter()
    try:
        yield buf
    finally:
        _capture.leave()
        _buffer.reset(token)


# --------------------------------------------------------------------------- secrets


def _url_secrets(url: str, service: object | None = None) -> set[str]:
    """Pieces of ``url`` that may be secret: credentials, path keys, query values, token hosts."""
    pieces: set[str] = set()
    rest = url.split("://", 1)[1] if "://" in url else url
    try:
        parts = urlsplit("x://" + rest)
        host = parts.hostname or ""
        pieces.update(filter(None, [parts.username, parts.password]))
        pieces.update(parts.path.split("/"))
        pieces.update(v for _, v in parse_qsl(parts.query, keep_blank_values=False))
    except ValueError:
        host = ""
        pieces.update(re.split(r"[/:@?&=#]+", rest))
    if host and "." not in host and host != "localhost":
        pieces.add(host)  # e.g. slack://TOKEN_A/TOKEN_B/TOKEN_C
    if service is not None:  # whatever apprise itself hides in its privacy URL
        try:
            full = set(re.split(r"[/:@?&=#,]+", service.url(privacy=False)))
            shown = set(re.split(r"[/:@?&=#,]+", service.url(privacy=True)))
            pieces.update(full - shown)
        except Exception:
            pass
    out: set[str] = set()
    for piece in pieces:
        for form in {piece, unquote(piece)}:
            if len(form) >= 4:
                out.add(form)
    return out


def redact(text: str, secrets: set[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------- reasons

_ERRNO = re.compile(r"\[Errno -?\d+\]\s*([^'\")\]]+)")
_DETAIL = re.compile(r"^(Socket Exception|.*Exception:|Response Details)", re.I)


def _one_line(text: str, limit: int = MAX_ERROR) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(entries: list[tuple[int, str]], secrets: set[str]) -> str | None:
    """One line from apprise's records: its warnings, plus the low-level cause if it logged one."""
    warnings = list(dict.fromkeys(m.strip() for lvl, m in entries if lvl >= logging.WARNING and m.strip()))
    cause = None
    for lvl, message in entries:
        if lvl < logging.WARNING and _DETAIL.match(message.strip()):
            found = _ERRNO.search(message)
            cause = found.group(1).strip() if found else message.split(":", 1)[-1].strip()[:200]
            if cause:
                break
    text = "; ".join(warnings)
    if cause and cause.lower() not in text.lower():
        text = f"{text} ({cause})" if text else cause
    return _one_line(redact(text, secrets)) if text else None


# --------------------------------------------------------------------------- sending


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _invalid(url: str, channel: str | None, entries: list[tuple[int, str]]) -> SendResult:
    where = f" for channel {channel!r}" if channel else ""
    scheme = _scheme(url)
    known = True
    try:
        from apprise.manager_plugins import NotificationManager

        known = scheme in NotificationManager()
    except Exception:
        pass
    if not scheme:
        why = "no scheme:// given"
    elif not known:
        why = f"unknown scheme '{scheme}://'"
    else:
        details = [
            m
            for lvl, m in entries
            if lvl >= logging.WARNING and not m.startswith(("Could not load", "Unparseable"))
        ]
        why = f"'{scheme}://' URL rejected" + (f": {'; '.join(details)}" if details else "")
    return SendResult(False, [], _one_line(redact(f"invalid apprise URL{where}: {why}", _url_secrets(url))))


def _service_results(outcome: object, service: object, error: str | None) -> list[dict]:
    name = getattr(service, "service_name", None) or "apprise"
    per = list(outcome) if not isinstance(outcome, bool) else []
    if not per:
        return [{"service": str(name), "ok": bool(outcome), "error": None if outcome else error}]
    return [
        {"service": str(getattr(r, "name", name)), "ok": bool(r), "error": None if r else error} for r in per
    ]


def _with_read_timeout(service: object, url: str) -> None:
    """Give ``service`` the default read timeout unless its URL chose one (``rto=``)."""
    query = urlsplit(url).query if "://" in url else ""
    if not any(key.lower() == "rto" for key, _ in parse_qsl(query, keep_blank_values=True)):
        service.socket_read_timeout = DEFAULT_READ_TIMEOUT


def check_url(url: str, *, channel: str | None = None) -> str | None:
    """None when apprise accepts ``url``; else a one-line reason (secrets redacted)."""
    url = prepare_url(url.strip())
    with _captured() as entries:
        service = apprise.Apprise.instantiate(url, asset=AppriseAsset(async_mode=False))
    return None if service is not None else _invalid(url, channel, entries).error


def _pick(service: object, message: Rendered) -> tuple[str, NotifyFormat]:
    """The body and format for this service: the form it renders natively, else plain text.

    A JSON webhook gets the plain text as ``message`` and the structured document under
    ``message.data_key`` (through the plugin's payload extras, as ``:key=value`` URL options do;
    the URL's own extras win).
    """
    from apprise.plugins.custom_json import NotifyJSON

    if isinstance(service, NotifyJSON):
        if message.data is not None:
            service.payload_extras = {message.data_key: message.data, **service.payload_extras}
        return message.text, NotifyFormat.TEXT
    wanted = service.resolve_format(None)
    if wanted == NotifyFormat.HTML and message.html is not None:
        return message.html, NotifyFormat.HTML
    if wanted == NotifyFormat.MARKDOWN and message.markdown is not None:
        return message.markdown, NotifyFormat.MARKDOWN
    return message.text, NotifyFormat.TEXT


def send_message(url: str, title: str, body: str, *, channel: str | None = None) -> SendResult:
    """Send ``title``/``body`` (plain text) to one apprise URL; never raises, never leaks secrets."""
    return send_rendered(url, Rendered.plain(title, body), channel=channel)


def send_rendered(url: str, message: Rendered, *, channel: str | None = None) -> SendResult:
    """Send a rendered message to one apprise URL, in the form the service renders best (HTML
    e-mail, Markdown for Slack and other Markdown services, JSON fields for ``json://``, plain
    text otherwise); never raises, never leaks secrets."""
    url = prepare_url(url.strip())
    asset = AppriseAsset(async_mode=False)
    with _captured() as entries:
        service = apprise.Apprise.instantiate(url, asset=asset)
    if service is None:
        return _invalid(url, channel, entries)
    _with_read_timeout(service, url)
    secrets = _url_secrets(url, service)
    sender = apprise.Apprise(asset=asset)
    sender.add(service)
    with _captured() as entries:
        try:
            body, body_format = _pick(service, message)
            outcome = sender.notify(body=body, title=message.title, body_format=body_format)
        except Exception as exc:  # apprise should not raise; be safe anyway
            error = _one_line(redact(f"{type(exc).__name__}: {exc}", secrets))
            return SendResult(False, [{"service": service.service_name, "ok": False, "error": error}], error)
    ok = bool(outcome)
    error = None if ok else (_reason(entries, secrets) or "delivery failed (apprise gave no reason)")
    unknown = not ok and any(_READ_TIMEOUT.search(message) for _, message in entries)
    if unknown:
        error = f"delivery unknown (sent, no answer in time; the channel may have it): {error}"
    return SendResult(ok, _service_results(outcome, service, error), error, unknown)
