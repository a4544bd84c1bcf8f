"""What an alert says: a view built from the database rows, rendered for every kind of channel.

One alert (or one digest / flood bundle) is rendered once into a :class:`Rendered` message that
holds every form a channel may want; :func:`monitor.alerts.send.send_rendered` picks the one the
apprise service asks for:

- ``text``: plain text, for ``console://``, ``logfile://`` and text-only services; titles and
  snippets from the wild are never mangled.
- ``html``: a real HTML message for e-mail (apprise sends it as multipart/alternative with a
  text/plain part converted from it, so every URL is also visible as text), matched words in
  ``<mark>``.
- ``markdown``: CommonMark, matched words in ``**bold**``; apprise turns it into each service's
  dialect (Slack ``mrkdwn``: ``*bold*``, ``<url|title>``, ``&amp; &lt; &gt;``).
- ``data``: a structured document (topic, title, outlet, published, url, terms, snippet, also),
  added under ``alert`` (or ``digest``) to the JSON that ``json://`` webhooks receive.

Highlighting is the matcher's own: the spans of the snippet where the reported terms matched are
stored with the match (``matches.highlights``, see :mod:`monitor.match.highlight`) and used as
they are, so an alert marks exactly what matched. The "Matched:" line shows a fuzzy term with the
spelling found (``Sghrouchni ≈ Seghrouchni``). Rows stored before highlights were have none.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.db.models import Alert, Article, Match
from monitor.match import labels

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
    story_id: int | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)  # spans of ``snippet`` that matched
    matched: list[str] | None = None  # the terms as shown ("Sghrouchni ≈ Seghrouchni"); None: ``terms``

    def shown_terms(self) -> list[str]:
        return list(dict.fromkeys(self.matched if self.matched is not None else self.terms))


@dataclass
class Rendered:
    """One message in every form a channel may want (``None``: derive it from ``text``)."""

    title: str
    text: str
    html: str | None = None
    markdown: str | None = None
    data: dict | None = None
    data_key: str = "alert"  # where ``data`` goes in a JSON webhook's payload

    @classmethod
    def plain(cls, title: str, text: str) -> Rendered:
        return cls(title, text)


# --------------------------------------------------------------------------- views


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
    terms = [str(t) for t in (match.terms if match else [])]
    highlights = [(int(s), int(e)) for s, e in (match.highlights or [])] if match else []
    snippet = match.snippet if match and match.snippet else None
    if snippet and not highlights:  # a row from before highlights: tidy it (offsets don't matter)
        snippet = _clean(snippet)
    return AlertView(
        topic=alert.topic.name,
        title=title,
        outlet=_outlet(article),
        published=article.published_at,
        url=article.url,
        terms=terms,
        snippet=snippet,
        also=[(_outlet(a), a.url) for a in others],
        story_id=alert.story_id,
        highlights=highlights,
        matched=labels(terms, match.hits) if match else None,
    )


def format_time(moment: datetime, tz: tzinfo) -> str:
    """``2026-11-23 15:04 (Africa/Casablanca)``: the time in ``tz``, named by its IANA key."""
    local = moment.astimezone(tz)
    name = getattr(tz, "key", None) or local.tzname() or "UTC"
    return f"{local:%Y-%m-%d %H:%M} ({name})"


def _title(view: AlertView) -> str:
    title = f"[{_clean(view.topic)}] {_clean(view.title)}"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


# --------------------------------------------------------------------------- highlighting


def _marked(text: str, spans: list[tuple[int, int]], plain, mark) -> str:
    out, pos = [], 0
    for start, end in spans:
        out += [plain(text[pos:start]), mark(text[start:end])]
        pos = end
    out.append(plain(text[pos:]))
    return "".join(out)


# --------------------------------------------------------------------------- escaping

_MD_SPECIAL = re.compile(r"([\[\]<>])")


def md(text: str) -> str:
    """``text`` for a CommonMark body: brackets and angle brackets escaped, so untrusted text can
    neither open a link nor pass for markup (apprise turns them into Slack's entities). ``*``,
    ``_`` and backticks are left alone: Slack has no backslash escapes and would show the
    backslashes; at worst a title's own ``*word*`` shows in italics. ``&`` is left to apprise."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_url(url: str) -> str:
    return url.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def _h(text: str) -> str:
    return html.escape(text, quote=True)


# --------------------------------------------------------------------------- one alert


def render(view: AlertView, tz: tzinfo) -> tuple[str, str]:
    """``(title, body)`` of one alert: ``[Topic] Article title`` and a short plain-text body."""
    lines = [
        f"Outlet: {view.outlet or 'unknown'}",
        f"Published: {format_time(view.published, tz) if view.published else 'unknown'}",
        f"URL: {view.url}",
    ]
    if view.terms:
        lines.append(f"Matched: {', '.join(view.shown_terms())}")
    if view.snippet:
        lines += ["", view.snippet]
    if view.also:
        lines += ["", "Also reported by:"]
        lines += [f"- {outlet}: {url}" if outlet else f"- {url}" for outlet, url in view.also]
    return _title(view), "\n".join(lines)


def alert_data(view: AlertView, tz: tzinfo) -> dict:
    """The structured form of one alert (JSON webhooks)."""
    return {
        "topic": view.topic,
        "title": view.title,
        "outlet": view.outlet,
        "published": view.published.astimezone(tz).isoformat() if view.published else None,
        "url": view.url,
        "terms": list(dict.fromkeys(view.terms)),
        "snippet": view.snippet,
        "matched": view.shown_terms(),
        "highlights": [list(span) for span in view.highlights],
        "also": [{"outlet": outlet, "url": url} for outlet, url in view.also],
    }


def _html_block(view: AlertView, tz: tzinfo, *, heading: bool) -> list[str]:
    published = format_time(view.published, tz) if view.published else "unknown"
    parts = []
    if heading:
        parts.append(f'<p style="color:#555;margin:0">Topic: <b>{_h(view.topic)}</b></p>')
        parts.append(f'<h2 style="margin:.2em 0"><a href="{_h(view.url)}">{_h(view.title)}</a></h2>')
    else:
        parts.append(f'<h3 style="margin:.8em 0 .2em"><a href="{_h(view.url)}">{_h(view.title)}</a></h3>')
    parts.append(
        f'<p style="margin:.2em 0"><b>Outlet:</b> {_h(view.outlet or "unknown")}<br>'
        f"<b>Published:</b> {_h(published)}<br>"
        f'<b>URL:</b> <a href="{_h(view.url)}">{_h(view.url)}</a></p>'
    )
    if view.terms:
        parts.append(f'<p style="margin:.2em 0"><b>Matched:</b> {_h(", ".join(view.shown_terms()))}</p>')
    if view.snippet:
        marked = _marked(view.snippet, view.highlights, _h, lambda s: f"<mark>{_h(s)}</mark>")
        parts.append(
            f'<blockquote style="margin:.4em 0;padding-left:.8em;border-left:3px solid #ccc">{marked}</blockquote>'
        )
    if view.also:
        items = "".join(
            f'<li>{_h(outlet) + ": " if outlet else ""}<a href="{_h(url)}">{_h(url)}</a></li>'
            for outlet, url in view.also
        )
        parts.append(
            f'<p style="margin:.4em 0 0"><b>Also reported by:</b></p><ul style="margin:.2em 0">{items}</ul>'
        )
    return parts


def _md_block(view: AlertView, tz: tzinfo, *, heading: bool) -> list[str]:
    published = format_time(view.published, tz) if view.published else "unknown"
    lines = []
    if heading:
        lines.append(f"Topic: **{md(view.topic)}**")
    lines.append(f"**[{md(view.title)}](<{_md_url(view.url)}>)**")
    lines.append(f"Outlet: {md(view.outlet or 'unknown')} · Published: {md(published)}")
    if view.terms:
        lines.append(f"Matched: {md(', '.join(view.shown_terms()))}")
    if view.snippet:
        marked = _marked(view.snippet, view.highlights, md, lambda s: f"**{md(s)}**")
        lines.append(f"> {marked}")
    if view.also:
        also = ", ".join(f"[{md(outlet or url)}](<{_md_url(url)}>)" for outlet, url in view.also)
        lines.append(f"Also reported by: {also}")
    return lines


def _html_page(body: list[str]) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;line-height:1.4">'
        + "\n".join(body)
        + "</body></html>"
    )


def render_message(view: AlertView, tz: tzinfo) -> Rendered:
    """One alert in every form (see the module docstring)."""
    title, text = render(view, tz)
    return Rendered(
        title=title,
        text=text,
        html=_html_page(_html_block(view, tz, heading=True)),
        markdown="\n".join(_md_block(view, tz, heading=True)),
        data=alert_data(view, tz),
    )


# --------------------------------------------------------------------------- digests and bundles


@dataclass
class BatchView:
    """Several alerts in one message: a digest (``kind="digest"``) or a flood bundle."""

    kind: str  # digest | bundle
    channel: str
    items: list[AlertView]
    since: datetime | None = None  # the period covered (digests)
    until: datetime | None = None
    note: str | None = None  # e.g. why a bundle was held


def _grouped(items: list[AlertView]) -> list[tuple[str, list[AlertView]]]:
    """Alerts grouped by topic (alphabetical), each topic's stories oldest first."""
    ordered = sorted(
        items,
        key=lambda v: (v.topic.casefold(), v.published is None, v.published or datetime.max, v.story_id or 0),
    )
    return [(topic, list(group)) for topic, group in groupby(ordered, key=lambda v: v.topic)]


def _batch_title(batch: BatchView, tz: tzinfo) -> str:
    stories = len({(v.story_id, v.url) for v in batch.items})
    topics = len({v.topic for v in batch.items})
    counts = f"{stories} {'story' if stories == 1 else 'stories'} in {topics} {'topic' if topics == 1 else 'topics'}"
    if batch.kind == "digest":
        when = f" until {format_time(batch.until, tz)}" if batch.until else ""
        return f"Digest: {counts}{when}"
    return f"{len(batch.items)} alerts held back: {counts}"


def render_batch(batch: BatchView, tz: tzinfo) -> Rendered:
    """A digest or flood bundle: one message listing its alerts grouped by topic then story."""
    title = _batch_title(batch, tz)
    groups = _grouped(batch.items)
    intro = []
    if batch.since and batch.until:
        intro.append(f"Period: {format_time(batch.since, tz)} to {format_time(batch.until, tz)}")
    if batch.note:
        intro.append(batch.note)

    text: list[str] = list(intro)
    html_parts = [f"<h2>{_h(title)}</h2>"] + [f"<p>{_h(line)}</p>" for line in intro]
    markdown: list[str] = [f"**{md(title)}**"] + [md(line) for line in intro]
    for topic, views in groups:
        text += ["", f"== {topic} ({len(views)}) =="]
        html_parts.append(f'<h2 style="border-bottom:1px solid #ccc">{_h(topic)} ({len(views)})</h2>')
        markdown += ["", f"**{md(topic)}** ({len(views)})"]
        for view in views:
            _, body = render(view, tz)
            text += [
                "",
                f"* {_clean(view.title)}",
                *(f"  {line}" if line else "" for line in body.splitlines()),
            ]
            html_parts += _html_block(view, tz, heading=False)
            markdown += [""] + [
                f"• {line}" if i == 0 else line for i, line in enumerate(_md_block(view, tz, heading=False))
            ]
    data = {
        "kind": batch.kind,
        "channel": batch.channel,
        "since": batch.since.astimezone(tz).isoformat() if batch.since else None,
        "until": batch.until.astimezone(tz).isoformat() if batch.until else None,
        "count": len(batch.items),
        "topics": [
            {"topic": topic, "stories": [alert_data(v, tz) for v in views]} for topic, views in groups
        ],
    }
    return Rendered(
        title=title,
        text="\n".join(text).strip("\n"),
        html=_html_page(html_parts),
        markdown="\n".join(markdown),
        data=data,
        data_key="digest",
    )
