"""How things look on the pages: slugs, "3 h ago", per-article language and direction, highlighted
terms, the mentions chart. Pure functions (Jinja filters and globals), no database."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from monitor.alerts.render import format_time
from monitor.config import TopicConfig
from monitor.match import Matcher, QueryError

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "ug", "yi", "dv", "ku"})
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_RTL_LETTER = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_LETTER = re.compile(r"[^\W\d_]")


def slugify(name: str) -> str:
    """``Data centres`` → ``data-centres``; letters of any script are kept (``السغروشني``)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", "-", text).strip("-") or "topic"


def topic_slugs(names: list[str]) -> dict[str, str]:
    """A unique slug per topic name, in config order (a clash gets ``-2``, ``-3`` …)."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = slug = slugify(name)
        n = 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug)
        slugs[name] = slug
    return slugs


def time_ago(moment: datetime | None, now: datetime) -> str:
    """``just now``, ``12 min ago``, ``3 h ago``, ``2 days ago``; a date past a month (or ahead)."""
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    if seconds < -300 or seconds >= 31 * 86400:
        return f"{moment:%Y-%m-%d}"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return "1 day ago" if days == 1 else f"{days} days ago"


def exact_time(moment: datetime | None, tz: tzinfo) -> str:
    """``2026-11-23 15:04 (Africa/Casablanca)``."""
    return format_time(moment, tz) if moment else ""


@dataclass(frozen=True)
class Direction:
    lang: str | None
    dir: str  # rtl | ltr | auto

    def attrs(self) -> Markup:
        """``lang="ar" dir="rtl"`` for the element holding the article's text."""
        lang = f' lang="{escape(self.lang)}"' if self.lang else ""
        return Markup(f'{lang} dir="{self.dir}"')


def direction(language: str | None, sample: str | None = None) -> Direction:
    """The ``lang`` and ``dir`` of an article: from its language, else from the script of ``sample``."""
    lang = language.strip() if language and _LANG_TAG.match(language.strip()) else None
    if lang:
        return Direction(lang, "rtl" if lang.split("-")[0].lower() in RTL_LANGUAGES else "ltr")
    letters = _LETTER.findall(sample or "")
    if not letters:
        return Direction(None, "auto")
    rtl = sum(1 for c in letters if _RTL_LETTER.match(c))
    return Direction(None, "rtl" if rtl * 2 > len(letters) else "ltr")


def highlight_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the matched ``terms`` (as a match row keeps them: keywords or query leaves as
    written) match ``text``, found by the matcher itself, so a page marks what matching matches
    (an Arabic surname with its article, never the bare word)."""
    return list(_spans(text, tuple(dict.fromkeys(terms))))


@lru_cache(maxsize=4096)
def _spans(text: str, terms: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    # Normalising a text costs more than rendering its card: the same titles and snippets are
    # shown again and again (pages, feed polls), so their spans are kept.
    return tuple(_term_matcher(terms).spans(text))


@lru_cache(maxsize=256)
def _term_matcher(terms: tuple[str, ...]) -> Matcher:
    """A matcher of these terms: each as a keyword, or (``title:x``, ``"a b"~3``) as a query."""
    topics = []
    for i, term in enumerate(terms):
        for topic in (TopicConfig(name=str(i), keywords=[term]), TopicConfig(name=str(i), query=term)):
            try:
                Matcher([topic])
            except QueryError:
                continue
            topics.append(topic)
            break
    return Matcher(topics)


def highlighted(text: str | None, terms: list[str] | None, tag: str = "mark") -> Markup:
    """``text`` escaped, with the matched terms in ``<mark>`` (or another ``tag``)."""
    if not text:
        return Markup("")
    out, pos = [], 0
    opening, closing = Markup(f"<{tag}>"), Markup(f"</{tag}>")
    for start, end in highlight_spans(text, list(terms or [])):
        out += [escape(text[pos:start]), opening, escape(text[start:end]), closing]
        pos = end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def safe_href(url: str | None) -> str | None:
    """The URL if it is http(s) (a link from the internet must not run script), else None."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@dataclass
class Bar:
    x: int
    y: int
    height: int
    label: str
    count: int


@dataclass
class Chart:
    """An inline SVG bar chart: one bar per day."""

    width: int
    height: int
    bars: list[Bar]
    peak: int
    bar_width: int
    first_label: str
    last_label: str


def chart(days: list[datetime], counts: list[int], *, height: int = 48, bar: int = 8, gap: int = 2) -> Chart:
    peak = max(counts, default=0)
    bars = []
    for i, (day, count) in enumerate(zip(days, counts, strict=True)):
        h = round(count / peak * (height - 1)) if peak else 0
        h = max(h, 1 if count else 0)
        bars.append(Bar(i * (bar + gap), height - h, h, f"{day:%Y-%m-%d}", count))
    width = len(days) * (bar + gap) - gap if days else 0
    first = f"{days[0]:%b %d}" if days else ""
    last = f"{days[-1]:%b %d}" if days else ""
    return Chart(width, height, bars, peak, bar, first, last)
