"""Generate realistic outlet pages for tests: article pages with menus, related-article teasers
and comments; RSS feeds; listing pages."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from html import escape

MENU = """
<header class="site-header"><div class="logo"><a href="/">The Daily Atlas</a></div>
<nav class="main-menu"><ul>
  <li><a href="/politics/">Politics</a></li><li><a href="/economy/">Economy</a></li>
  <li><a href="/tag/technology/">Technology</a></li><li><a href="/author/editor/">Editors</a></li>
  <li><a href="/about/">About</a></li><li><a href="/contact/">Contact</a></li>
</ul></nav></header>
"""

FOOTER = """
<footer class="site-footer"><p>© 2026 The Daily Atlas. All rights reserved.</p>
<ul><li><a href="/privacy/">Privacy</a></li><li><a href="https://twitter.com/dailyatlas">Twitter</a></li></ul>
</footer>
"""


def article_page(
    title: str,
    paragraphs: list[str],
    *,
    published: str | None = "2026-11-20T09:30:00+01:00",
    author: str = "Sara Benali",
    canonical: str | None = None,
    teasers: list[str] = (),
    comments: list[str] = (),
    lang: str = "en",
) -> str:
    """A news article page with the chrome real outlets have around the text."""
    head = [f"<title>{escape(title)} | The Daily Atlas</title>", '<meta charset="utf-8">']
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{published}">')
    head.append(f'<meta name="author" content="{escape(author)}">')
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    related = "".join(
        f'<li><a href="/2026/11/related-{i}-story-about-things/">{escape(t)}</a></li>'
        for i, t in enumerate(teasers)
    )
    aside = (
        f'<aside class="sidebar related-posts"><h3>Related articles</h3><ul>{related}</ul></aside>'
        if teasers
        else ""
    )
    comment_html = "".join(
        f'<li class="comment"><div class="comment-author">Reader {i}</div><p>{escape(c)}</p></li>'
        for i, c in enumerate(comments)
    )
    comments_block = (
        f'<section id="comments" class="comments-area"><h2>Comments</h2><ol class="comment-list">'
        f"{comment_html}</ol></section>"
        if comments
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head>{"".join(head)}</head>
<body>{MENU}
<main><article class="post">
<h1 class="entry-title">{escape(title)}</h1>
<div class="byline">By <span class="author">{escape(author)}</span> · <time datetime="{published or ""}">{published or ""}</time></div>
<div class="entry-content">
{body}
</div>
</article>
{aside}
{comments_block}
</main>
{FOOTER}</body></html>"""


def rss_feed(base: str, items: list[dict]) -> str:
    """An RSS 2.0 feed; items have title, link, guid (optional), published (aware datetime), summary."""
    entries = []
    for item in items:
        pub = item.get("published")
        entries.append(
            "<item>"
            f"<title>{escape(item['title'])}</title>"
            f"<link>{escape(item['link'])}</link>"
            + (f'<guid isPermaLink="false">{escape(item["guid"])}</guid>' if item.get("guid") else "")
            + (f"<pubDate>{format_datetime(pub)}</pubDate>" if isinstance(pub, datetime) else "")
            + f"<description>{escape(item.get('summary', ''))}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>The Daily Atlas</title><link>{base}/</link><description>News</description>"
        + "".join(entries)
        + "</channel></rss>"
    )


def listing_page(links: list[tuple[str, str]]) -> str:
    """A section front: menus, a list of article links (href, text), pagination, footer."""
    cards = "\n".join(
        f'<div class="card"><h3 class="card-title"><a href="{escape(h)}">{escape(t)}</a></h3>'
        f'<a class="author" href="/author/someone/">Someone</a></div>'
        for h, t in links
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Latest news</title></head>
<body>{MENU}<main><h1>Latest news</h1>
<section class="latest">{cards}</section>
<nav class="pagination"><a href="/news/page/2/">2</a> <a href="/news/page/3/">3</a> <a href="/news/page/2/">Next</a></nav>
</main>{FOOTER}</body></html>"""
