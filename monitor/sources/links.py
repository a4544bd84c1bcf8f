"""Which links of an HTML listing page lead to articles.

With a CSS selector, the links it selects are taken as they are (minus mailto:, javascript:,
social sites and the page itself). Without one, heuristics keep same-site links that look like
articles (a long slug, a numeric id or a date in the path, and anchor text of a few words) and
drop navigation: header/nav/footer/aside chrome, menus, sidebars, share buttons, pagination,
tag/category/author/search/login pages, files and other sites.

Apart from ``monitor.sources.listing`` (which reads the page, and finds its next page and dates)
because these heuristics are long and change for their own reasons: a new site's menus.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import lxml.html
from cssselect import SelectorError
from lxml import etree

from monitor.sources.candidate import Candidate, DiscoverError
from monitor.urls import canonical_url

# --------------------------------------------------------------------------- page chrome

_CHROME_TAGS = {"nav", "aside", "menu", "noscript", "template"}
_BANNER_TAGS = {"header", "footer"}  # chrome only when not inside an article/section/main
_CONTENT_TAGS = {"article", "main", "section"}
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "complementary", "menu", "menubar", "search"}
_CHROME_WORDS = {
    "nav", "navbar", "navigation", "menu", "menus", "submenu", "megamenu", "mainmenu", "topmenu",
    "footer", "sidebar", "widget", "widgets", "share", "sharing", "sharer", "sharebar", "social",
    "socials", "breadcrumb", "breadcrumbs", "pagination", "pager", "paging", "pagenav", "comment",
    "comments", "commentlist", "tagcloud", "newsletter", "subscribe", "cookie", "cookies", "consent",
    "login", "signin", "skip", "topbar", "masthead", "offcanvas", "drawer", "hamburger",
}  # fmt: skip
_LAYOUT_FLAGS = {"has", "with", "no", "without", "is", "show", "hide", "toggle", "open"}
_CHROME_PREFIXES = (
    "nav",
    "menu",
    "sidebar",
    "breadcrumb",
    "pagination",
    "footer",
    "social",
    "share",
    "widget",
)

# --------------------------------------------------------------------------- URLs that are not articles

_NON_ARTICLE_SEGMENTS = {
    "tag", "tags", "category", "categories", "categorie", "rubrique", "topic", "topics",
    "author", "authors", "auteur", "auteurs", "writer", "search", "recherche", "page", "feed", "feeds",
    "rss", "atom", "login", "logout", "signin", "signup", "register", "account", "wp-admin",
    "wp-login.php", "wp-json", "xmlrpc.php", "privacy", "contact", "about", "terms", "cgu",
    "newsletter", "subscribe", "abonnement", "label", "cart", "shop", "advertise", "jobs",
    "careers", "sitemap", "amp", "profile", "profiles", "player", "players", "playerpage", "user", "users",
}  # fmt: skip
_NON_ARTICLE_PREFIXES = ("privacy", "contact", "about", "terms", "cookie", "legal", "mentions-legales",
                         "politique-de-confidentialite", "a-propos", "qui-sommes", "wp-")  # fmt: skip
# pagination, search, comment replies, share/redirect endpoints
_EXCLUDED_PARAMS = {
    "page", "paged", "pg", "s", "q", "query", "search", "replytocom", "share", "action", "url",
    "redirect", "redirect_to", "return", "returnurl", "return_to", "next",
}  # fmt: skip
_SOCIAL_HOSTS = (
    "facebook.com", "fb.com", "fb.me", "twitter.com", "x.com", "t.co", "instagram.com", "linkedin.com",
    "youtube.com", "youtu.be", "tiktok.com", "pinterest.com", "reddit.com", "whatsapp.com", "wa.me",
    "telegram.me", "t.me", "telegram.org", "snapchat.com", "threads.net", "bsky.app", "vk.com",
    "flipboard.com", "news.google.com", "play.google.com", "apps.apple.com", "plus.google.com",
    "tumblr.com", "messenger.com", "dailymotion.com",
)  # fmt: skip
_FILE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".bmp", ".ico", ".avif", ".pdf", ".zip", ".gz",
    ".rar", ".7z", ".mp3", ".mp4", ".m4a", ".avi", ".mov", ".webm", ".wav", ".ogg", ".doc", ".docx",
    ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".csv", ".css", ".js", ".xml", ".rss", ".json", ".txt",
    ".apk", ".exe", ".dmg",
)  # fmt: skip
_SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "sms:", "data:", "whatsapp:", "fb-messenger:", "viber:")
_PAGE_EXT = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp|cfm)$", re.I)
_SLUG_SPLIT = re.compile(r"[-_+.,~\s]+")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LETTERS = re.compile(r"[^\W\d_]", re.U)
_LONG_ID = re.compile(r"(?<!\d)\d{5,}(?!\d)")
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_DATE_SEGMENT = re.compile(r"^(?:(?:19|20)\d{2}(?:[-_/]?\d{1,2}(?:[-_/]?\d{1,2})?)?|\d{1,2})$")
_FULL_DATE = re.compile(r"(?:19|20)\d{2}[-_/]?(?:0[1-9]|1[0-2])[-_/]?(?:0[1-9]|[12]\d|3[01])")


def article_links(
    doc: lxml.html.HtmlElement, base: str, page_url: str, selector: str | None = None
) -> list[Candidate]:
    """Article candidates linked from a parsed page, deduplicated by canonical URL, in page order.

    ``base`` resolves relative links; ``page_url`` is the page's own address (its site, and a
    link to itself, which is dropped). ``selector`` (CSS) picks the links, or the elements whose
    ``a[href]`` descendants are the links; without it, heuristics choose. Raises DiscoverError
    when the selector is invalid or matches no link.
    """
    page = canonical_url(page_url)
    if selector:
        anchors = _selected_anchors(doc, selector)
        links = _collect(anchors, base, page, keep=_plain_link)
    else:
        site = _site_host(page_url)
        wrappers = _layout_wrappers(doc)
        anchors = [a for a in doc.iter("a") if a.get("href") and not _in_chrome(a, wrappers)]
        links = _collect(
            anchors, base, page, keep=lambda url: _same_site(url, site) and _looks_like_article(url)
        )
        links = [(url, fetch_url, title) for url, fetch_url, title in links if _title_is_long_enough(title)]
    return [Candidate(url=url, fetch_url=fetch_url, title=title) for url, fetch_url, title in links]


def selector_error(selector: str) -> str | None:
    """Why ``selector`` is not a valid CSS selector, or None; for config checks."""
    try:
        lxml.html.fromstring("<p></p>").cssselect(selector)
    except (SelectorError, etree.XPathError) as exc:
        return f"invalid CSS selector {selector!r}: {' '.join(str(exc).split())}"
    return None


# --------------------------------------------------------------------------- links


def _selected_anchors(doc: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    problem = selector_error(selector)
    if problem:
        raise DiscoverError(problem)
    anchors: list[lxml.html.HtmlElement] = []
    for element in doc.cssselect(selector):
        if element.tag == "a" and element.get("href"):
            anchors.append(element)
        else:
            anchors.extend(a for a in element.iter("a") if a.get("href"))
    if not anchors:
        raise DiscoverError(f"the selector {selector!r} matched no links on the page")
    return anchors


def _collect(anchors, base: str, page: str, keep) -> list[tuple[str, str, str | None]]:
    """(canonical url, absolute url, best anchor text) per distinct link, in first-seen order."""
    found: dict[str, tuple[str, str | None]] = {}
    for anchor in anchors:
        href = anchor.get("href", "").strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
            continue
        fetch_url = urljoin(base, href)
        url = canonical_url(fetch_url)
        if url == page or not url.startswith(("http://", "https://")) or not keep(url):
            continue
        title = _anchor_text(anchor)
        if url not in found:
            found[url] = (fetch_url, title)
        elif _words(title) > _words(found[url][1]):
            found[url] = (found[url][0], title)
    return [(url, fetch_url, title) for url, (fetch_url, title) in found.items()]


def _anchor_text(anchor: lxml.html.HtmlElement) -> str | None:
    text = " ".join(anchor.text_content().split())
    if not text:
        text = " ".join((anchor.get("title") or "").split())
    if not text:
        alts = [img.get("alt", "") for img in anchor.iter("img")]
        text = " ".join(" ".join(alts).split())
    return text or None


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _title_is_long_enough(title: str | None) -> bool:
    """Two words or more (a headline, not "Home"), or a long run of non-Latin script (CJK)."""
    if not title:
        return False
    return _words(title) >= 2 or (len(title) >= 8 and not title.isascii())


# --------------------------------------------------------------------------- heuristics


def _layout_wrappers(doc: lxml.html.HtmlElement) -> set[lxml.html.HtmlElement]:
    """Elements holding the page's main content (ancestors of <main> or <h1>): a class such as
    ``container penci_sidebar`` on them describes the layout, so it does not make them chrome."""
    wrappers: set[lxml.html.HtmlElement] = set()
    for element in doc.iter("main", "h1"):
        wrappers.update(element.iterancestors())
    for element in doc.xpath("//*[@role='main']"):
        wrappers.add(element)
        wrappers.update(element.iterancestors())
    return wrappers


def _in_chrome(anchor: lxml.html.HtmlElement, wrappers: set[lxml.html.HtmlElement]) -> bool:
    """Whether the link sits in navigation, menus, sidebars, share bars, comments or pagination."""
    ancestors = list(anchor.iterancestors())
    for i, element in enumerate([anchor, *ancestors]):
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in ("body", "html"):  # their classes describe the layout ("has-sidebar"), not chrome
            break
        if tag in _CHROME_TAGS:
            return True
        if tag in _BANNER_TAGS and not any(a.tag in _CONTENT_TAGS for a in ancestors[i:]):
            return True
        if (element.get("role") or "").lower() in _CHROME_ROLES:
            return True
        if element.get("hidden") is not None or element.get("aria-hidden") == "true":
            return True
        if element not in wrappers and (
            _chrome_words(element.get("class")) or _chrome_words(element.get("id"))
        ):
            return True
    return False


def _chrome_words(value: str | None) -> bool:
    """Class or id naming chrome: ``main-menu``, ``site-footer``, ``share-buttons``; layout flags
    such as ``has-sidebar`` or ``no-comments`` do not count."""
    if not value:
        return False
    for name in value.lower().split():
        previous = ""
        for token in re.split(r"[^a-z0-9]+", name):
            if previous not in _LAYOUT_FLAGS and (
                token in _CHROME_WORDS or (token.startswith(_CHROME_PREFIXES) and len(token) <= 16)
            ):
                return True
            previous = token
    return False


def _plain_link(url: str) -> bool:
    """Selector mode: anything but social sites and files."""
    parts = urlsplit(url)
    return not _is_social(parts.hostname or "") and not parts.path.lower().endswith(_FILE_EXTENSIONS)


def _looks_like_article(url: str) -> bool:
    """A path with a long slug or an id or a date, and no tag/author/search/pagination/file marks."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if path.lower().endswith(_FILE_EXTENSIONS):
        return False
    segments = [s for s in path.split("/") if s]
    if not segments:
        return False
    if any(_non_article_segment(s.lower()) for s in segments):
        return False
    params = parse_qsl(parts.query, keep_blank_values=True)
    if any(k.lower() in _EXCLUDED_PARAMS for k, _ in params):
        return False
    last = _PAGE_EXT.sub("", segments[-1])
    if _long_slug(last) or _LONG_ID.search(path):
        return True
    if any(v.isdigit() for _, v in params):  # ?p=123, ?id=77
        return True
    if _FULL_DATE.search(path) and not _DATE_SEGMENT.match(last):
        return True
    # /2024/05/short-slug or /news/1234: a date or an id segment followed by something
    dated = any(_YEAR.match(s) for s in segments[:-1]) and not _DATE_SEGMENT.match(last)
    numeric_id = last.isdigit() and len(last) >= 4 and not _YEAR.match(last)
    return dated or numeric_id


def _non_article_segment(segment: str) -> bool:
    if segment in _NON_ARTICLE_SEGMENTS:
        return True
    return segment.startswith(_NON_ARTICLE_PREFIXES) and len(_SLUG_SPLIT.split(segment)) <= 4


def _long_slug(segment: str) -> bool:
    """Several words: ``morocco-unveils-its-ai-plan``, or Arabic ``السغروشني-تطلق-برنامج``."""
    words = [w for w in _SLUG_SPLIT.split(segment) if w]
    lettered = [w for w in words if _LETTERS.search(w)]
    if _ARABIC.search(segment):
        return len(lettered) >= 3
    # four words or more: section names ("sunday-talk-shows") rarely have that many
    return len(lettered) >= 4 and sum(len(w) for w in lettered) >= 16


def _site_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _same_site(url: str, site: str) -> bool:
    host = _site_host(url)
    return host == site or host.endswith("." + site) or site.endswith("." + host)


def _is_social(host: str) -> bool:
    host = host.lower()
    return any(host == s or host.endswith("." + s) for s in _SOCIAL_HOSTS)
