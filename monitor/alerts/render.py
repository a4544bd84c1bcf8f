"""What an alert says: a view built from the database rows, rendered as a title and a plain-text body.

The body is plain text on purpose (sent with apprise ``body_format=text``): apprise then sends
e-mail as ``text/plain``, escapes ``& < >`` for Slack (which still links bare URLs), and passes
it unchanged to JSON, console and log-file channels. Titles and snippets from the wild (``*``,
``_``, ``<``, ``[…](…)``) are never mangled, which a Markdown body could not promise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import Alert, Article, Match

MAX_TITLE = 200


@dataclass
class AlertView:
    """Everything one alert message needs, already read from the database."""

    topic: str
    title: str
    outlet: str
    published: datetime | None
    url: str
    terms: list[str] = field(default_factory=list)
    snippet: str | None = None
    also: list[tuple[str, str]] = field(default_factory=list)  # (outlet, url) of the story's other articles


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _outlet(article: Article) -> str:
    return article.source.name if article.source is not None else ""


def build_view(session: Session, alert: Alert, tz: tzinfo) -> AlertView:
    """Read the topic, article, match and the story's other articles of ``alert``."""
    article = alert.article
    match = session.scalar(
        select(Match).where(Match.article_id == alert.article_id, Match.topic_id == alert.topic_id)
    )
    others: list[Article] = []
    if alert.story is not None:
        others = [a for a in alert.story.articles if a.id != article.id]
    others.sort(key=lambda a: (a.published_at is None, a.published_at or a.discovered_at, a.id))
    title = _clean(article.title) or _clean(alert.story.title if alert.story else None) or article.url
    return AlertView(
        topic=alert.topic.name,
        title=title,
        outlet=_outlet(article),
        published=article.published_at,
        url=article.url,
        terms=[str(t) for t in (match.terms if match else [])],
        snippet=_clean(match.snippet) if match and match.snippet else None,
        also=[(_outlet(a), a.url) for a in others],
    )


def format_time(moment: datetime, tz: tzinfo) -> str:
    """``2026-11-23 15:04 (Africa/Casablanca)``: the time in ``tz``, named by its IANA key."""
    local = moment.astimezone(tz)
    name = getattr(tz, "key", None) or local.tzname() or "UTC"
    return f"{local:%Y-%m-%d %H:%M} ({name})"


def render(view: AlertView, tz: tzinfo) -> tuple[str, str]:
    """``(title, body)`` of one alert: ``[Topic] Article title`` and a short plain-text body."""
    title = f"[{_clean(view.topic)}] {_clean(view.title)}"
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1] + "…"
    lines = [
        f"Outlet: {view.outlet or 'unknown'}",
        f"Published: {format_time(view.published, tz) if view.published else 'unknown'}",
        f"URL: {view.url}",
    ]
    if view.terms:
        lines.append(f"Matched: {', '.join(dict.fromkeys(view.terms))}")
    if view.snippet:
        lines += ["", view.snippet]
    if view.also:
        lines += ["", "Also reported by:"]
        lines += [f"- {outlet}: {url}" if outlet else f"- {url}" for outlet, url in view.also]
    return title, "\n".join(lines)
