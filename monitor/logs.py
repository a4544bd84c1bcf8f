"""Logging: text for people or JSON for machines, with the source and article on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from monitor.urls import redact_text, redact_url

_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("source", default=None)
_article: contextvars.ContextVar[str | None] = contextvars.ContextVar("article", default=None)

NOISY = (
    "apscheduler",
    "alembic",
    "trafilatura",
    "htmldate",
    "charset_normalizer",
    "asyncio",
    "aiohttp.access",
)


@contextmanager
def log_context(*, source: str | None = None, article: str | None = None) -> Iterator[None]:
    """Every log line written inside (in this task) carries ``source`` and ``article`` (the
    article's URL, shown as ``urls.redact_url`` shows it)."""
    tokens = []
    if source is not None:
        tokens.append((_source, _source.set(source)))
    if article is not None:
        tokens.append((_article, _article.set(redact_url(article))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.source = getattr(record, "source", None) or _source.get()
        record.article = getattr(record, "article", None) or _article.get()
        return True


class RedactingFormatter(logging.Formatter):
    """Every URL in a line (a library's message, a traceback) shown as ``urls.redact_url`` shows it:
    monitor's own messages redact at their source, this catches what they cannot."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class TextFormatter(RedactingFormatter):
    """``time LEVEL logger: message [source=… article=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{k}={getattr(record, k)}" for k in ("source", "article") if getattr(record, k, None)]
        return f"{line} [{' '.join(extra)}]" if extra else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, source, article, error (URLs in the
    message and error redacted, as ``RedactingFormatter`` does)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        for key in ("source", "article"):
            if getattr(record, key, None):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["error"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


def setup_logging(*, level: int = logging.INFO, fmt: str = "text", rich_console=None) -> None:
    """Configure the root logger once: ``fmt`` is "text" or "json"; a rich console for terminals."""
    if fmt == "json":
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif rich_console is not None:
        from rich.logging import RichHandler

        handler = RichHandler(console=rich_console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(RedactingFormatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(TextFormatter())
    handler.addFilter(_ContextFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
