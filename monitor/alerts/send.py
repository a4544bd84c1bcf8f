"""Send one message to one channel URL through apprise, and say precisely why it failed.

Apprise reports failures through its ``apprise`` logger; the useful detail ("Connection
refused") is often logged at DEBUG level only. :func:`send_message` captures those records for
its own call (``apprise_log``) and turns them into one line with every secret of the URL
(``secrets.channel_secrets``: passwords, tokens apprise knows as private) replaced by ``***``.

Apprise waits 4 s for a service to answer by default; many webhooks take longer, and a reply that
comes too late means the service most likely has the message already. Channels get
``DEFAULT_READ_TIMEOUT`` unless their URL sets apprise's ``rto=``, and a read timeout (the
request was sent, no answer came) makes the result *unknown* rather than failed: the outbox then
tries once more at most.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import apprise
from apprise import AppriseAsset, NotifyFormat

from monitor.alerts.apprise_log import captured, instantiate
from monitor.alerts.channels import prepare_url
from monitor.alerts.render import Rendered
from monitor.alerts.secrets import redact, service_secrets

MAX_ERROR = 500
DEFAULT_READ_TIMEOUT = 30.0  # seconds a channel may take to answer (apprise's rto=, 4 s by default)
_READ_TIMEOUT = re.compile(r"read timed out", re.I)  # requests' ReadTimeout: sent, no answer


@dataclass
class SendResult:
    """The outcome of one send: ``results`` has one entry per apprise service, never a secret."""

    ok: bool
    results: list[dict] = field(default_factory=list)  # {"service": str, "ok": bool, "error": str|None}
    error: str | None = None
    unknown: bool = False  # the request went out but no answer came: the channel may have it


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
    error = redact(f"invalid apprise URL{where}: {why}", service_secrets(url, None))
    return SendResult(False, [], _one_line(error))


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
    service, entries = instantiate(url)
    return None if service is not None else _invalid(prepare_url(url.strip()), channel, entries).error


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
    asset = AppriseAsset(async_mode=False)
    service, entries = instantiate(url, asset)
    url = prepare_url(url.strip())
    if service is None:
        return _invalid(url, channel, entries)
    _with_read_timeout(service, url)
    secrets = service_secrets(url, service)
    sender = apprise.Apprise(asset=asset)
    sender.add(service)
    with captured() as entries:
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
